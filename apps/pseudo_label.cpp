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

std::vector<PseudoLabel> select_confident(const std::vector<float>& probs, int64_t classes, double threshold) {
  EFFNET_CHECK(classes > 0 && int64_t(probs.size()) % classes == 0, "select_confident: ", probs.size(),
               " probabilities do not make rows of ", classes);
  std::vector<PseudoLabel> kept;
  const int64_t rows = int64_t(probs.size()) / classes;
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = probs.data() + r * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (p[c] > p[best]) best = c;
    if (double(p[best]) > threshold) kept.push_back({r, best, double(p[best])});
  }
  return kept;
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
