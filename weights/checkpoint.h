// Training checkpoints: a weights file (docs/weights-format.md) plus the optimizer's state and the
// position of the run, so that a run resumes exactly where it stopped. A checkpoint is also a
// valid weights file: `effnet predict` and load_efficientnet() read it as such.
// Files are written to NAME.tmp and renamed: a crash mid-write leaves the previous one intact.
#pragma once

#include <string>

#include "framework/optim/ema.h"
#include "framework/optim/optimizer.h"
#include "weights/model_io.h"

namespace effnet {

struct TrainingState {
  std::string stage;                // "finetune", "retrain", ...
  int64_t epoch = 0;                // epochs completed
  int64_t step = 0;                 // optimizer steps completed
  double best_metric = -1.0;        // best validation accuracy so far
  int64_t best_epoch = -1;
  int64_t epochs_without_improvement = 0;
  uint64_t rng_seed = 0, rng_offset = 0;  // the default generator (dropout, drop-connect masks)
  std::string config;               // the run's configuration, as text
};

// Optimizer may be null (a model-only checkpoint, e.g. the best weights); so may the weight
// average (stored under /ema with its update count and decay when given).
void save_checkpoint(const std::string& path, const nn::Module& model, const WeightsMeta& meta,
                     const Optimizer* optimizer, const TrainingState& state,
                     const ExponentialMovingAverage* ema = nullptr);

// Reads the training state; throws if the file is not a checkpoint.
TrainingState read_training_state(const std::string& path);
bool is_checkpoint(const std::string& path);

// Restores model tensors (strictly), and the optimizer state and step count when `optimizer` is
// given (the file must then hold optimizer state of the same type), and the weight average when
// `ema` is given (the file must hold one, of the same decay). Returns the training state.
TrainingState load_checkpoint(const std::string& path, nn::Module& model, Optimizer* optimizer,
                              ExponentialMovingAverage* ema = nullptr);

}  // namespace effnet
