// Progress output for people. On a terminal: one bar per epoch, redrawn in place (batches,
// img/s, loss, accuracy, ETA). Otherwise (a log file, CI): plain lines, one every `log_every`
// batches, and the epoch's summary line. The training loop feeds it only at the points where it
// reads the loss back from the device anyway, so progress never forces a GPU sync of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace effnet::app {

bool stdout_is_terminal();
// "42s", "3:07", "1:02:03".
std::string format_duration(double seconds);

class Progress {
 public:
  // `label` heads every line ("finetune epoch 3/30"); total_batches > 0. log_every <= 0: no
  // intermediate lines off a terminal.
  Progress(std::string label, int64_t total_batches, bool terminal, int64_t log_every);
  // Cumulative numbers for the epoch so far. loss < 0 or accuracy < 0: not shown.
  void update(int64_t batches_done, int64_t images_done, double mean_loss, double accuracy);
  // Clears the bar (terminal) and prints `summary` on its own line.
  void finish(const std::string& summary);
  double elapsed() const;

 private:
  std::string line(int64_t batches_done, int64_t images_done, double mean_loss, double accuracy) const;
  std::string label_;
  int64_t total_, log_every_, last_logged_ = 0;
  bool terminal_, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace effnet::app
