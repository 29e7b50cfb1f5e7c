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

// A further round of self-training (--rounds N > 1): the previous round's retrained model labels
// the unlabeled images again, and is trained further on the new list.
struct SelfTrainingRound {
  PseudolabelRecord pseudolabel;
  TrainingRecord retrain;
};

struct PipelineResults {
  std::string title;                 // "effnet pipeline: b0 (runs/x)"
  std::string model, device;
  std::vector<std::string> classes;
  std::string settings;              // the run's configuration, as in OUT/pipeline.conf
  FinetuneStageRecord finetune;
  PseudolabelRecord pseudolabel;     // round 1
  TrainingRecord retrain;
  std::vector<SelfTrainingRound> later_rounds;  // rounds 2..N
  PredictRecord predict;             // the last round's retrained model on the test set

  int64_t rounds() const { return 1 + int64_t(later_rounds.size()); }
  const PseudolabelRecord& final_pseudolabel() const {
    return later_rounds.empty() ? pseudolabel : later_rounds.back().pseudolabel;
  }
  const TrainingRecord& final_retrain() const { return later_rounds.empty() ? retrain : later_rounds.back().retrain; }
};

// Header row, then fine-tune, pseudo-label, retrain (a pair of rows per round), predict and total.
std::vector<std::vector<std::string>> results_table(const PipelineResults& r);
// Every stage's time, all rounds included.
double total_seconds(const PipelineResults& r);
std::string render_markdown(const PipelineResults& r);  // the table
std::string render_json(const PipelineResults& r);      // the numbers, for scripts
std::string render_text(const PipelineResults& r);      // the table with aligned columns, for the console

}  // namespace effnet::app
