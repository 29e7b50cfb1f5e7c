// Renderings of a pipeline's results (see results.h).
#include "apps/results.h"

#include <algorithm>
#include <cstdio>

#include "apps/json_writer.h"
#include "apps/progress.h"

namespace effnet::app {
namespace {

std::string percent(double x) {
  if (x < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * x);
  return buf;
}

std::string training_summary(const TrainingRecord& t) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "best val %s (epoch %lld of %lld; %lld train / %lld val images)",
                percent(t.best_val_accuracy).c_str(), (long long)t.best_epoch, (long long)t.epochs,
                (long long)t.train_images, (long long)t.val_images);
  return buf;
}

double total_seconds(const PipelineResults& r) {
  return r.finetune.training.seconds + r.finetune.test.seconds + r.pseudolabel.seconds + r.retrain.seconds +
         r.predict.seconds;
}

}  // namespace

std::vector<std::vector<std::string>> results_table(const PipelineResults& r) {
  const PseudolabelRecord& p = r.pseudolabel;
  char kept[160];
  std::snprintf(kept, sizeof kept, "%lld of %lld kept (%.1f%%), precision %s", (long long)p.kept,
                (long long)p.considered, p.considered ? 100.0 * double(p.kept) / double(p.considered) : 0.0,
                percent(p.precision).c_str());
  return {{"stage", "result", "test accuracy", "time"},
          {"fine-tune", training_summary(r.finetune.training), percent(r.finetune.test.accuracy),
           format_duration(r.finetune.training.seconds + r.finetune.test.seconds)},
          {"pseudo-label", kept, "", format_duration(p.seconds)},
          {"retrain", training_summary(r.retrain), percent(r.predict.accuracy), format_duration(r.retrain.seconds)},
          {"predict", std::to_string(r.predict.images) + " test images -> predict/predictions.csv",
           percent(r.predict.accuracy), format_duration(r.predict.seconds)},
          {"total", "", "", format_duration(total_seconds(r))}};
}

std::string render_markdown(const PipelineResults& r) {
  const auto table = results_table(r);
  std::string md;
  for (size_t row = 0; row < table.size(); ++row) {
    md += "|";
    for (const std::string& cell : table[row]) md += " " + cell + " |";
    md += "\n";
    if (row == 0) md += "|---|---|---|---|\n";
  }
  return md;
}

std::string render_json(const PipelineResults& r) {
  return JsonObject()
             .add("model", r.model)
             .add("device", r.device)
             .add("finetune_best_val", r.finetune.training.best_val_accuracy)
             .add("finetune_epochs", r.finetune.training.epochs)
             .add("finetune_test", r.finetune.test.accuracy)
             .add("pseudo_considered", r.pseudolabel.considered)
             .add("pseudo_kept", r.pseudolabel.kept)
             .add("pseudo_precision", r.pseudolabel.precision)
             .add("pseudo_per_class", r.pseudolabel.per_class)
             .add("retrain_best_val", r.retrain.best_val_accuracy)
             .add("retrain_epochs", r.retrain.epochs)
             .add("retrain_test", r.predict.accuracy)
             .add("t_finetune_s", r.finetune.training.seconds + r.finetune.test.seconds)
             .add("t_pseudolabel_s", r.pseudolabel.seconds)
             .add("t_retrain_s", r.retrain.seconds)
             .add("t_predict_s", r.predict.seconds)
             .add("t_total_s", total_seconds(r))
             .add("classes", r.classes)
             .str(1) +
         "\n";
}

std::string render_text(const PipelineResults& r) {
  const auto table = results_table(r);
  size_t w0 = 0, w1 = 0, w2 = 0;
  for (const auto& row : table) {
    w0 = std::max(w0, row[0].size());
    w1 = std::max(w1, row[1].size());
    w2 = std::max(w2, row[2].size());
  }
  std::string out;
  for (size_t row = 0; row < table.size(); ++row) {
    auto pad = [](const std::string& s, size_t w) { return s + std::string(w - s.size(), ' '); };
    std::string line = pad(table[row][0], w0) + "  " + pad(table[row][1], w1) + "  " + pad(table[row][2], w2) + "  " +
                       table[row][3];
    out += line + "\n";
    if (row == 0) out += std::string(w0 + w1 + w2 + 12, '-') + "\n";
  }
  return out;
}

}  // namespace effnet::app
