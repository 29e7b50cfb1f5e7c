// Running a model over a dataset in evaluation mode (no gradients, batched, through the
// threaded loader) and the metrics on what comes out: class probabilities, accuracy, mean loss,
// the confusion matrix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "efficientnet/efficientnet.h"
#include "framework/data/dataset.h"
#include "framework/data/transforms.h"

namespace effnet::app {

struct EvalOptions {
  int64_t batch = 256;
  int workers = 1;
  Device device = Device::cpu();  // the model must already be there
  std::string progress_label;     // non-empty: a progress bar on a terminal
  // Test-time augmentation: each image's probabilities are the mean of its own and its mirror
  // image's (a second pass with Transform::mirror), for models trained with random flips.
  bool mirror_average = false;
};

// Softmax probabilities, row-major (indices.size() x classes), rows in the order of `indices`
// (with opts.mirror_average: averaged with the mirror images'). Leaves the model in eval mode.
std::vector<float> predict_probabilities(EfficientNet& net, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                         const data::Transform& transform, const EvalOptions& opts);

std::vector<int64_t> argmax_rows(const std::vector<float>& probs, int64_t classes);
// Fraction of rows whose argmax equals the label.
double accuracy_of(const std::vector<float>& probs, int64_t classes, const std::vector<int64_t>& labels);
// Mean of -log p[label] (the cross-entropy of the probabilities), with p clamped away from 0.
double mean_nll(const std::vector<float>& probs, int64_t classes, const std::vector<int64_t>& labels);
// counts[true][predicted]; throws for a label outside [0, classes).
std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<int64_t>& truth,
                                                   const std::vector<int64_t>& predicted, int64_t classes);
// A fixed-width text table of the matrix with class names (truncated) on both axes.
std::string format_confusion(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& classes);
// The matrix as CSV (atomically): a header of class names, one row per true class.
void write_confusion_csv(const std::string& path, const std::vector<std::vector<int64_t>>& counts,
                         const std::vector<std::string>& classes);

// 0..n-1.
std::vector<int64_t> all_indices(int64_t n);
// labels[indices[i]].
std::vector<int64_t> labels_at(const data::Dataset& ds, const std::vector<int64_t>& indices);

}  // namespace effnet::app
