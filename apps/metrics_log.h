// Per-epoch training metrics: what the training loop records, the metrics.csv / metrics.json
// files it rewrites (atomically) after every epoch, and reading the CSV back when a run resumes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace effnet::app {

struct EpochMetrics {
  std::string stage;         // "finetune", "retrain"
  int64_t epoch = 0;         // 1-based (the count of completed epochs after it)
  double lr = 0;             // learning rate of the epoch's last step
  double train_loss = 0;     // mean over the epoch's training samples
  double train_accuracy = 0;
  double val_loss = 0;
  double val_accuracy = 0;
  bool best = false;         // the best validation accuracy so far (best.h5 written)
  double seconds = 0;        // training + validation time of the epoch
  double images_per_second = 0;  // training throughput
};

// `dir`/metrics.csv and `dir`/metrics.json.
void write_metrics(const std::string& dir, const std::vector<EpochMetrics>& rows);
// Rows of a metrics.csv written by write_metrics; throws naming the file and line when malformed.
std::vector<EpochMetrics> read_metrics_csv(const std::string& path);
std::string metrics_json(const std::vector<EpochMetrics>& rows);

}  // namespace effnet::app
