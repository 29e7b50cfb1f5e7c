// The pipeline: the whole semi-supervised recipe from one set of options into one folder,
//   OUT/finetune/     best.h5, last.h5, metrics.csv/json, test_predictions.csv, done.txt
//   OUT/pseudolabel/  pseudo_labels.csv, done.txt
//   OUT/retrain/      best.h5, last.h5, metrics.csv/json, done.txt
//   OUT/pseudolabel-K/, OUT/retrain-K/  the same for round K = 2..N with --rounds N (the round
//                     before's retrained model labels the unlabeled images again and trains on)
//   OUT/predict/      predictions.csv, confusion.csv, done.txt
//   OUT/pipeline.conf the run's settings; OUT/results.{json,md}; OUT/report.html
// Each stage runs through one step: when OUT/<stage>/done.txt holds its record (stage_record.h)
// the stage is skipped and the record read back, otherwise it runs and its record is written.
// A stage interrupted mid-way thus starts again, and a training stage resumes from its last
// completed epoch (last.h5). Each image folder is decoded once, when a stage first needs it.
#pragma once

#include <string>

#include "apps/results.h"
#include "apps/stages.h"

namespace effnet::app {

struct PipelineOptions {
  std::string out_dir;
  DataLayout data;             // effnet prepare's folder: unlabeled/, test/ and test_labels.csv required
  bool skip_bad_images = false;
  // The stages' settings. The pipeline sets what ties them together: the labeled source (from
  // `data`), every path (checkpoints, lists, output folders) and the inference settings.
  FinetuneOptions finetune;
  PseudolabelOptions pseudolabel;
  RetrainOptions retrain;
  int64_t rounds = 1;          // pseudo-label + retrain rounds (self-training)
  InferenceSetup inference;    // pseudo-labelling and the test-set predictions
  // What identifies the run: written to OUT/pipeline.conf, compared when the folder is used again.
  Settings identity;
  // The built-in value of each identity key: a key that a folder written before the option
  // existed lacks matches when this run leaves it at that value.
  Settings identity_defaults;
};

// Checks every stage's settings and the data folder before any work, then runs what is not done.
PipelineResults run_pipeline(const PipelineOptions& opts);

}  // namespace effnet::app
