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

// Each round's (pseudo-label, retrain) pair, round 1 first.
std::vector<std::pair<const PseudolabelRecord*, const TrainingRecord*>> rounds_of(const PipelineResults& r) {
  std::vector<std::pair<const PseudolabelRecord*, const TrainingRecord*>> out = {{&r.pseudolabel, &r.retrain}};
  for (const SelfTrainingRound& k : r.later_rounds) out.emplace_back(&k.pseudolabel, &k.retrain);
  return out;
}

}  // namespace

double total_seconds(const PipelineResults& r) {
  double t = r.finetune.training.seconds + r.finetune.test.seconds + r.predict.seconds;
  for (const auto& [p, t_] : rounds_of(r)) t += p->seconds + t_->seconds;
  return t;
}

std::vector<std::vector<std::string>> results_table(const PipelineResults& r) {
  std::vector<std::vector<std::string>> table = {
      {"stage", "result", "test accuracy", "time"},
      {"fine-tune", training_summary(r.finetune.training), percent(r.finetune.test.accuracy),
       format_duration(r.finetune.training.seconds + r.finetune.test.seconds)}};
  const auto rounds = rounds_of(r);
  for (size_t k = 0; k < rounds.size(); ++k) {
    const PseudolabelRecord& p = *rounds[k].first;
    const std::string round = rounds.size() > 1 ? " (round " + std::to_string(k + 1) + ")" : "";
    char kept[160];
    std::snprintf(kept, sizeof kept, "%lld of %lld kept (%.1f%%), precision %s", (long long)p.kept,
                  (long long)p.considered, p.considered ? 100.0 * double(p.kept) / double(p.considered) : 0.0,
                  percent(p.precision).c_str());
    table.push_back({"pseudo-label" + round, kept, "", format_duration(p.seconds)});
    // The test set is read once, by the last round's model.
    table.push_back({"retrain" + round, training_summary(*rounds[k].second),
                     k + 1 == rounds.size() ? percent(r.predict.accuracy) : "",
                     format_duration(rounds[k].second->seconds)});
  }
  table.push_back({"predict", std::to_string(r.predict.images) + " test images -> predict/predictions.csv",
                   percent(r.predict.accuracy), format_duration(r.predict.seconds)});
  table.push_back({"total", "", "", format_duration(total_seconds(r))});
  return table;
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
  // The pseudo_* and retrain_* numbers are the last round's (the one the final model came from);
  // round_* lists every round's, round 1 first.
  const PseudolabelRecord& p = r.final_pseudolabel();
  const TrainingRecord& t = r.final_retrain();
  std::vector<double> kept, precision, best_val, t_pseudo, t_retrain;
  for (const auto& [pr, tr] : rounds_of(r)) {
    kept.push_back(double(pr->kept));
    precision.push_back(pr->precision);
    best_val.push_back(tr->best_val_accuracy);
    t_pseudo.push_back(pr->seconds);
    t_retrain.push_back(tr->seconds);
  }
  double sum_pseudo = 0, sum_retrain = 0;
  for (size_t k = 0; k < kept.size(); ++k) sum_pseudo += t_pseudo[k], sum_retrain += t_retrain[k];
  return JsonObject()
             .add("model", r.model)
             .add("device", r.device)
             .add("finetune_best_val", r.finetune.training.best_val_accuracy)
             .add("finetune_epochs", r.finetune.training.epochs)
             .add("finetune_test", r.finetune.test.accuracy)
             .add("rounds", r.rounds())
             .add("pseudo_considered", p.considered)
             .add("pseudo_kept", p.kept)
             .add("pseudo_precision", p.precision)
             .add("pseudo_per_class", p.per_class)
             .add("retrain_best_val", t.best_val_accuracy)
             .add("retrain_epochs", t.epochs)
             .add("retrain_test", r.predict.accuracy)
             .add("round_pseudo_kept", kept)
             .add("round_pseudo_precision", precision)
             .add("round_retrain_best_val", best_val)
             .add("t_finetune_s", r.finetune.training.seconds + r.finetune.test.seconds)
             .add("t_pseudolabel_s", sum_pseudo)
             .add("t_retrain_s", sum_retrain)
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
