// Progress bars and log lines (see progress.h).
#include "apps/progress.h"

#include <unistd.h>

#include <cstdio>

namespace effnet::app {

bool stdout_is_terminal() { return isatty(fileno(stdout)) != 0; }

std::string format_duration(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  long s = long(seconds + 0.5);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

Progress::Progress(std::string label, int64_t total_batches, bool terminal, int64_t log_every)
    : label_(std::move(label)),
      total_(total_batches > 0 ? total_batches : 1),
      log_every_(log_every),
      terminal_(terminal),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::line(int64_t done, int64_t images, double loss, double acc) const {
  const double t = elapsed();
  const double rate = t > 0 ? double(images) / t : 0.0;
  const double eta = done > 0 ? t * double(total_ - done) / double(done) : 0.0;
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "%lld/%lld  %.0f img/s", (long long)done, (long long)total_, rate);
  std::string out(buf, size_t(n));
  if (loss >= 0) {
    std::snprintf(buf, sizeof buf, "  loss %.4f", loss);
    out += buf;
  }
  if (acc >= 0) {
    std::snprintf(buf, sizeof buf, "  acc %.2f%%", 100.0 * acc);
    out += buf;
  }
  out += "  " + std::string(done < total_ ? "ETA " + format_duration(eta) : format_duration(t));
  return out;
}

void Progress::update(int64_t done, int64_t images, double loss, double acc) {
  if (terminal_) {
    auto now = std::chrono::steady_clock::now();
    // Redrawing more than ~10 times a second only costs time.
    if (drawn_ && done < total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    const int width = 24;
    const int filled = int(double(width) * double(done) / double(total_));
    std::string bar = "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "]";
    std::printf("\r\033[K%s %s %s", label_.c_str(), bar.c_str(), line(done, images, loss, acc).c_str());
    std::fflush(stdout);
    drawn_ = true;
  } else if (log_every_ > 0 && done - last_logged_ >= log_every_ && done < total_) {
    last_logged_ = done;
    std::printf("%s  batch %s\n", label_.c_str(), line(done, images, loss, acc).c_str());
    std::fflush(stdout);
  }
}

void Progress::finish(const std::string& summary) {
  if (terminal_ && drawn_) std::printf("\r\033[K");
  std::printf("%s\n", summary.c_str());
  std::fflush(stdout);
  drawn_ = false;
}

}  // namespace effnet::app
