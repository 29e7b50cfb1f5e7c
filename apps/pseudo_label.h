// Pseudo-labelling arithmetic, kept free of models and files so that it can be tested on
// hand-computed numbers: sharpening a softmax (p^(1/T), renormalised), keeping the rows whose top
// probability exceeds a threshold (one for all classes, or per class: FlexMatch's), capping the
// labels per class, counting the kept labels per class, and their precision against true labels.
#pragma once

#include <cstdint>
#include <vector>

namespace effnet::app {

// Row-major (rows x classes) probabilities; each row is replaced by p^(1/T) / sum(p^(1/T)).
// T = 1 leaves rows unchanged; T < 1 sharpens, T > 1 flattens. Computed in double, with the
// row maximum factored out first so that small probabilities and small T cannot underflow the
// whole row to zero. Throws for T <= 0, a negative or non-finite probability, or an all-zero row.
std::vector<float> sharpen(const std::vector<float>& probs, int64_t classes, double temperature);

struct PseudoLabel {
  int64_t row = 0;          // row of the probability matrix (position in the unlabeled set)
  int64_t label = 0;        // argmax (first index on ties)
  double confidence = 0.0;  // its probability
};

// Rows whose largest probability is strictly greater than `threshold` (the reference's
// `conf > 0.8`), in row order.
std::vector<PseudoLabel> select_confident(const std::vector<float>& probs, int64_t classes, double threshold);

// The same with a threshold per class (of the row's top label).
std::vector<PseudoLabel> select_confident(const std::vector<float>& probs, int64_t classes,
                                          const std::vector<double>& thresholds);

// FlexMatch's class-wise thresholds (Zhang et al. 2021, eq. 6-7 with its warm-up and convex
// mapping), computed once over the whole unlabeled set instead of over a running window:
//   sigma_c = rows whose top label is c with probability > threshold,
//   beta_c  = sigma_c / max(max_c' sigma_c', rows with no probability > threshold),
//   T_c     = beta_c / (2 - beta_c) * threshold.
// The best-learnt class keeps `threshold`; classes the model is less sure of get lower ones, so
// that the kept set is less dominated by the easy classes.
std::vector<double> adaptive_thresholds(const std::vector<float>& probs, int64_t classes, double threshold);

// At most `cap` labels per class (cap > 0), the most confident first (the lower row on ties);
// the result stays in row order. cap 0 keeps everything.
std::vector<PseudoLabel> cap_per_class(const std::vector<PseudoLabel>& kept, int64_t classes, int64_t cap);

// Kept labels per class (size `classes`); throws for a label outside [0, classes).
std::vector<int64_t> count_per_class(const std::vector<PseudoLabel>& kept, int64_t classes);

// Fraction of `kept` whose label equals true_labels[row]; 0 when nothing was kept.
double pseudo_label_precision(const std::vector<PseudoLabel>& kept, const std::vector<int64_t>& true_labels);

}  // namespace effnet::app
