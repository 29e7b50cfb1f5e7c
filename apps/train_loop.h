// The training loop shared by `finetune` and `retrain`: epochs of shuffled, augmented batches,
// validation accuracy after each epoch, early stopping on it, and two checkpoints in the output
// folder:
//   best.h5   the weights of the best validation accuracy so far (a checkpoint without optimizer)
//   last.h5   weights + optimizer state + position (epoch, best, patience counter, RNG state),
//             rewritten atomically after every completed epoch
// plus metrics.csv / metrics.json (one row per epoch).
//
// Resuming: when the folder already holds last.h5 for the same stage and settings, training
// continues after its last completed epoch and ends with exactly the weights an uninterrupted run
// would have: batch order and augmentation are functions of (seed, epoch), the default generator
// (dropout, drop-connect) is restored from the checkpoint, and so are the optimizer's buffers
// and step count (the LR schedule is a function of the step count).
//
// A NaN or infinite loss stops training with an error naming the epoch and step; nothing of the
// failing epoch is written, so last.h5 stays the last good checkpoint. On the GPU the losses are
// read back only every `log_every` steps (and at the end of each epoch), so the host never waits
// for the GPU in between; the error still names the first bad step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/config_file.h"
#include "apps/metrics_log.h"
#include "efficientnet/efficientnet.h"
#include "framework/data/dataset.h"
#include "framework/data/transforms.h"
#include "framework/optim/lr_schedule.h"
#include "framework/optim/optimizer.h"
#include "weights/model_io.h"

namespace effnet::app {

// Exit status of a process stopped by the --stop-after-steps test hook.
constexpr int kSimulatedCrashExit = 75;

struct TrainOptions {
  std::string stage = "finetune";  // names the checkpoints' stage and the log lines
  std::string out_dir;
  int64_t epochs = 30, patience = 10;  // patience <= 0: no early stopping
  int64_t batch = 128, eval_batch = 256;
  std::string optimizer = "sgd";  // sgd | adam | adamw | rmsprop
  double lr = 0.005, momentum = 0.9, weight_decay = 1e-4;
  std::string schedule = "constant";  // constant | step | cosine
  double warmup_epochs = 0;            // cosine: linear warm-up
  double step_epochs = 10, gamma = 0.1;  // step: lr *= gamma every step_epochs epochs
  double min_lr = 0;                   // cosine floor
  bool head_only = false;              // backbone frozen (and its batch norms in eval mode)
  uint64_t seed = 0;                   // batch order and augmentation
  Device device = Device::cpu();
  int workers = 1;
  int64_t log_every = 20;              // batches between log lines (and loss reads on the GPU)
  int64_t stop_after_steps = 0;        // test hook: exit(kSimulatedCrashExit) after this many steps in this process
  bool quiet = false;                  // no progress output (tests)
  // What identifies the run (model, data split, hyper-parameters, class names): stored in the
  // checkpoints and compared when resuming. Device, workers and logging are left out of it.
  Settings settings;
};

struct TrainData {
  const data::Dataset* dataset = nullptr;
  std::vector<int64_t> train, val;  // dataset indices
  data::Transform train_transform, eval_transform;
};

struct TrainResult {
  std::vector<EpochMetrics> history;
  double best_val_accuracy = -1;
  int64_t best_epoch = -1;
  int64_t epochs_run = 0;       // completed epochs, including those of earlier (interrupted) runs
  bool stopped_early = false;
  int64_t resumed_from = -1;    // epochs already completed when this process started (-1: fresh)
  double seconds = 0;           // training + validation, summed over epochs
  std::string best_path, last_path;
};

// The settings that differ between a checkpoint and this run ("key: old -> new" lines); empty
// when they match.
std::vector<std::string> settings_differences(const std::vector<ConfigEntry>& stored, const Settings& current);

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr,
                                          double momentum, double weight_decay);
std::unique_ptr<LRSchedule> make_schedule(const TrainOptions& opts, int64_t steps_per_epoch);
// Throws for an unknown optimizer or schedule name or a bad hyper-parameter, before any work.
void check_train_options(const TrainOptions& opts);

// Trains `net` (built, initialised and on the CPU or already on opts.device) and leaves it on
// opts.device holding the best weights. `meta` is written into the checkpoints (its resolution
// should be the training image size). The caller seeds the default generator before building the
// model; a resumed run restores it from last.h5.
TrainResult train_model(EfficientNet& net, const WeightsMeta& meta, const TrainData& td, const TrainOptions& opts);

}  // namespace effnet::app
