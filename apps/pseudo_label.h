// Pseudo-labelling arithmetic, kept free of models and files so that it can be tested on
// hand-computed numbers: sharpening a softmax (p^(1/T), renormalised), keeping the rows whose top
// probability exceeds a threshold, counting the kept labels per class, and their precision
// against true labels.
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

// Kept labels per class (size `classes`); throws for a label outside [0, classes).
std::vector<int64_t> count_per_class(const std::vector<PseudoLabel>& kept, int64_t classes);

// Fraction of `kept` whose label equals true_labels[row]; 0 when nothing was kept.
double pseudo_label_precision(const std::vector<PseudoLabel>& kept, const std::vector<int64_t>& true_labels);

}  // namespace effnet::app
