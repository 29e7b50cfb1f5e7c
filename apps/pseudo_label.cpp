// Pseudo-labelling arithmetic (see pseudo_label.h).
#include "apps/pseudo_label.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"

namespace effnet::app {

std::vector<float> sharpen(const std::vector<float>& probs, int64_t classes, double temperature) {
  EFFNET_CHECK(temperature > 0.0 && std::isfinite(temperature), "sharpen: temperature must be positive, got ",
               temperature);
  EFFNET_CHECK(classes > 0 && int64_t(probs.size()) % classes == 0, "sharpen: ", probs.size(),
               " probabilities do not make rows of ", classes);
  const int64_t rows = int64_t(probs.size()) / classes;
  const double power = 1.0 / temperature;
  std::vector<float> out(probs.size());
  std::vector<double> row(static_cast<size_t>(classes));
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = probs.data() + r * classes;
    double top = 0.0;
    for (int64_t c = 0; c < classes; ++c) {
      EFFNET_CHECK(std::isfinite(p[c]) && p[c] >= 0.0f, "sharpen: row ", r, " holds probability ", p[c]);
      top = std::max(top, double(p[c]));
    }
    EFFNET_CHECK(top > 0.0, "sharpen: row ", r, " is all zeros");
    // (p / top)^(1/T) keeps the largest term at 1, so the sum is at least 1.
    double total = 0.0;
    for (int64_t c = 0; c < classes; ++c) total += row[size_t(c)] = std::pow(double(p[c]) / top, power);
    for (int64_t c = 0; c < classes; ++c) out[size_t(r * classes + c)] = float(row[size_t(c)] / total);
  }
  return out;
}

namespace {
void check_rows(const char* what, const std::vector<float>& probs, int64_t classes) {
  EFFNET_CHECK(classes > 0 && int64_t(probs.size()) % classes == 0, what, ": ", probs.size(),
               " probabilities do not make rows of ", classes);
}
// Every row's top label and its probability (the first index on ties).
std::vector<PseudoLabel> top_labels(const std::vector<float>& probs, int64_t classes) {
  const int64_t rows = int64_t(probs.size()) / classes;
  std::vector<PseudoLabel> top(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = probs.data() + r * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (p[c] > p[best]) best = c;
    top[size_t(r)] = {r, best, double(p[best])};
  }
  return top;
}
}  // namespace

std::vector<PseudoLabel> select_confident(const std::vector<float>& probs, int64_t classes, double threshold) {
  check_rows("select_confident", probs, classes);
  return select_confident(probs, classes, std::vector<double>(size_t(classes), threshold));
}

std::vector<PseudoLabel> select_confident(const std::vector<float>& probs, int64_t classes,
                                          const std::vector<double>& thresholds) {
  check_rows("select_confident", probs, classes);
  EFFNET_CHECK(int64_t(thresholds.size()) == classes, "select_confident: ", thresholds.size(), " thresholds for ",
               classes, " classes");
  std::vector<PseudoLabel> kept;
  for (const PseudoLabel& t : top_labels(probs, classes))
    if (t.confidence > thresholds[size_t(t.label)]) kept.push_back(t);
  return kept;
}

std::vector<double> adaptive_thresholds(const std::vector<float>& probs, int64_t classes, double threshold) {
  check_rows("adaptive_thresholds", probs, classes);
  EFFNET_CHECK(threshold >= 0 && threshold < 1, "adaptive_thresholds: threshold must lie in [0, 1), got ", threshold);
  std::vector<int64_t> sigma(size_t(classes), 0);
  int64_t unused = 0;
  for (const PseudoLabel& t : top_labels(probs, classes)) {
    if (t.confidence > threshold)
      sigma[size_t(t.label)]++;
    else
      unused++;
  }
  const int64_t norm = std::max(*std::max_element(sigma.begin(), sigma.end()), unused);
  std::vector<double> out(size_t(classes), threshold);
  if (norm == 0) return out;  // no rows at all
  for (int64_t c = 0; c < classes; ++c) {
    const double beta = double(sigma[size_t(c)]) / double(norm);
    out[size_t(c)] = beta / (2.0 - beta) * threshold;
  }
  return out;
}

std::vector<PseudoLabel> cap_per_class(const std::vector<PseudoLabel>& kept, int64_t classes, int64_t cap) {
  EFFNET_CHECK(cap >= 0, "cap_per_class: cap must be >= 0 (0: none), got ", cap);
  if (cap == 0) return kept;
  std::vector<size_t> order(kept.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return kept[a].confidence > kept[b].confidence; });
  std::vector<int64_t> taken(size_t(classes), 0);
  std::vector<bool> keep(kept.size(), false);
  for (size_t i : order) {
    const int64_t c = kept[i].label;
    EFFNET_CHECK(c >= 0 && c < classes, "cap_per_class: label ", c, " outside [0, ", classes, ")");
    if (taken[size_t(c)] < cap) {
      taken[size_t(c)]++;
      keep[i] = true;
    }
  }
  std::vector<PseudoLabel> out;
  for (size_t i = 0; i < kept.size(); ++i)
    if (keep[i]) out.push_back(kept[i]);
  return out;
}

std::vector<int64_t> count_per_class(const std::vector<PseudoLabel>& kept, int64_t classes) {
  std::vector<int64_t> counts(size_t(classes), 0);
  for (const PseudoLabel& k : kept) {
    EFFNET_CHECK(k.label >= 0 && k.label < classes, "count_per_class: label ", k.label, " outside [0, ", classes,
                 ")");
    counts[size_t(k.label)]++;
  }
  return counts;
}

double pseudo_label_precision(const std::vector<PseudoLabel>& kept, const std::vector<int64_t>& true_labels) {
  if (kept.empty()) return 0.0;
  int64_t right = 0;
  for (const PseudoLabel& k : kept) {
    EFFNET_CHECK(k.row >= 0 && k.row < int64_t(true_labels.size()), "pseudo_label_precision: row ", k.row,
                 " has no true label (", true_labels.size(), " given)");
    right += true_labels[size_t(k.row)] == k.label;
  }
  return double(right) / double(kept.size());
}

}  // namespace effnet::app
