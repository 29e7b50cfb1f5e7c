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
// Data-parallel (docs/distributed.md), when the process group is distributed (mpirun -np N): each
// rank trains on its share of every global batch of N * batch images (loader.h), the gradients are
// averaged as backward runs (dist/gradient_reducer.h), so the ranks' weights and optimizer states
// stay identical; rank 0 broadcasts its weights at the start and its running statistics before
// every validation pass, and alone writes checkpoints and metrics. The world size is part of the
// run's settings when above 1: a resume at another world size is refused.
//
// A NaN or infinite loss stops training with an error naming the epoch and step; nothing of the
// failing epoch is written, so last.h5 stays the last good checkpoint. On the GPU the losses are
// read back only every `log_every` steps (and at the end of each epoch), so the host never waits
// for the GPU in between; the error still names the first bad step.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "apps/config_file.h"
#include "apps/metrics_log.h"
#include "efficientnet/efficientnet.h"
#include "framework/data/dataset.h"
#include "framework/data/transforms.h"
#include "framework/optim/factory.h"
#include "weights/model_io.h"

namespace effnet::app {

// Where a run is, right after an optimizer step.
struct StepEvent {
  const std::string& stage;
  int64_t epoch = 0;  // 1-based
  int64_t batch = 0;  // of the epoch, 1-based
  int64_t step = 0;   // optimizer steps so far, over all epochs (and earlier, resumed runs)
};
// Called after every optimizer step: an observer's hook (the crash-and-resume tests end the
// process there, tests/tools/effnet_crashing.cpp).
using StepHook = std::function<void(const StepEvent&)>;

struct TrainOptions {
  std::string stage = "finetune";  // names the checkpoints' stage and the log lines
  std::string out_dir;
  int64_t epochs = 30, patience = 10;  // patience 0: no early stopping
  int64_t batch = 128, eval_batch = 256;
  OptimizerSpec optimizer;             // sgd, lr 0.005, momentum 0.9, weight decay 1e-4
  ScheduleSpec schedule;               // constant
  bool head_only = false;              // backbone frozen (EfficientNet::freeze_backbone)
  double label_smoothing = 0;          // cross-entropy against (1 - eps)·one-hot + eps/C (PyTorch's)
  // > 0: an exponential moving average of the weights with this decay (ExponentialMovingAverage)
  // is what validation measures and best.h5 holds; last.h5 keeps both the weights and the average.
  double ema_decay = 0;
  bool mirror_average = false;         // validation averages each image with its mirror (EvalOptions)
  // Data parallelism (under mpirun, docs/distributed.md): batch statistics over all ranks'
  // batches instead of each rank's own (ops/sync_batch_norm.h). No effect in one process.
  bool sync_bn = false;
  uint64_t seed = 0;                   // batch order and augmentation
  Device device = Device::cpu();
  int workers = 1;
  int64_t log_every = 20;              // batches between log lines (and loss reads on the GPU)
  bool quiet = false;                  // no progress output (tests)
  StepHook after_step;                 // optional
  // What identifies the run (model, data split, hyper-parameters, class names): stored in the
  // checkpoints and compared when resuming. Device, workers and logging are left out of it.
  Settings settings;
};

struct TrainData {
  const data::Dataset* dataset = nullptr;
  std::vector<int64_t> train, val;  // dataset indices
  data::Transform train_transform, eval_transform;
  // Retraining: this share of every batch from the indices below first_group_end (the labeled
  // images), the rest from the others (data::LoaderOptions::first_group_share; 0: no groups).
  // first_group_note names the group for the log line "each batch N of B <note>".
  int64_t first_group_end = 0;
  double first_group_share = 0;
  std::string first_group_note;
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

// Throws for an unknown optimizer or schedule name or a bad hyper-parameter, before any work.
void check_train_options(const TrainOptions& opts);

// Trains `net` (built, initialised and on the CPU or already on opts.device) and leaves it on
// opts.device holding the best weights (the best average's, with ema_decay). `meta` is written into the checkpoints (its resolution
// should be the training image size). The caller seeds the default generator before building the
// model; a resumed run restores it from last.h5.
TrainResult train_model(EfficientNet& net, const WeightsMeta& meta, const TrainData& td, const TrainOptions& opts);

}  // namespace effnet::app
