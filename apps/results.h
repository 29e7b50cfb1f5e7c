// What a pipeline run found, as one structure, and its renderings: the results table (console
// and results.md), results.json and report.html (report.h) are all drawn from PipelineResults.
#pragma once

#include <string>
#include <vector>

#include "apps/stages.h"

namespace effnet::app {

// The fine-tune stage of the pipeline: training, then its best checkpoint on the test set.
struct FinetuneStageRecord {
  TrainingRecord training;
  PredictRecord test;
};

struct PipelineResults {
  std::string title;                 // "effnet pipeline: b0 (runs/x)"
  std::string model, device;
  std::vector<std::string> classes;
  std::string settings;              // the run's configuration, as in OUT/pipeline.conf
  FinetuneStageRecord finetune;
  PseudolabelRecord pseudolabel;
  TrainingRecord retrain;
  PredictRecord predict;             // the retrained model on the test set
};

// Header row, then fine-tune, pseudo-label, retrain, predict and total.
std::vector<std::vector<std::string>> results_table(const PipelineResults& r);
std::string render_markdown(const PipelineResults& r);  // the table
std::string render_json(const PipelineResults& r);      // the numbers, for scripts
std::string render_text(const PipelineResults& r);      // the table with aligned columns, for the console

}  // namespace effnet::app
