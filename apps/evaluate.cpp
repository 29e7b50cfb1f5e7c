// Evaluation passes and classification metrics (see evaluate.h).
#include "apps/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/progress.h"
#include "framework/data/csv.h"
#include "framework/data/loader.h"
#include "framework/dist/process_group.h"
#include "framework/framework.h"

namespace effnet::app {

namespace {

// One pass over the images: this process's rows (all of them, or its contiguous share when
// data-parallel).
std::vector<float> predict_pass(EfficientNet& net, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                const data::Transform& transform, const EvalOptions& opts) {
  const int64_t classes = net.config().num_classes;
  std::vector<float> probs(indices.size() * size_t(classes));
  if (indices.empty()) return probs;
  data::LoaderOptions lo;
  lo.batch_size = opts.batch;
  lo.shuffle = false;
  lo.workers = std::max(1, opts.workers);
  lo.transform = transform;
  lo.device = opts.device;
  data::Loader loader(ds, indices, lo);
  loader.start_epoch(0);
  net.eval();
  NoGradGuard no_grad;
  std::unique_ptr<Progress> bar;
  if (!opts.progress_label.empty() && stdout_is_terminal())
    bar = std::make_unique<Progress>(opts.progress_label, loader.batches_per_epoch(), true, 0);
  int64_t row = 0, done = 0;
  data::Batch b;
  while (loader.next(b)) {
    Tensor p = softmax(net.forward(b.images), 1).to(Device::cpu());
    const int64_t n = p.size(0);
    std::copy(p.data<float>(), p.data<float>() + n * classes, probs.begin() + row * classes);
    row += n;
    if (bar) bar->update(++done, row, -1, -1);
  }
  if (bar) bar->finish(opts.progress_label + ": " + std::to_string(row) + " images in " + format_duration(bar->elapsed()));
  EFFNET_CHECK(row == int64_t(indices.size()), "evaluation produced ", row, " rows for ", indices.size(), " images");
  return probs;
}

std::vector<float> predict_rows(EfficientNet& net, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                const data::Transform& transform, const EvalOptions& opts) {
  std::vector<float> probs = predict_pass(net, ds, indices, transform, opts);
  if (!opts.mirror_average) return probs;
  data::Transform mirrored = transform;
  mirrored.mirror = true;
  EvalOptions second = opts;
  if (!second.progress_label.empty()) second.progress_label += " (mirrored)";
  const std::vector<float> other = predict_pass(net, ds, indices, mirrored, second);
  for (size_t i = 0; i < probs.size(); ++i) probs[i] = 0.5f * (probs[i] + other[i]);
  return probs;
}

}  // namespace

std::vector<float> predict_probabilities(EfficientNet& net, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                         const data::Transform& transform, const EvalOptions& opts) {
  if (!dist::distributed()) return predict_rows(net, ds, indices, transform, opts);
  // Each rank its contiguous share, gathered in rank order: the rows of one process, in order.
  const dist::Range mine = dist::shard_of(int64_t(indices.size()), dist::rank(), dist::world_size());
  const std::vector<int64_t> share(indices.begin() + mine.begin, indices.begin() + mine.end);
  std::vector<float> probs = dist::all_gather(predict_rows(net, ds, share, transform, opts));
  EFFNET_CHECK(probs.size() == indices.size() * size_t(net.config().num_classes), "evaluation gathered ",
               probs.size(), " probabilities for ", indices.size(), " images");
  return probs;
}

std::vector<int64_t> argmax_rows(const std::vector<float>& probs, int64_t classes) {
  const int64_t rows = int64_t(probs.size()) / classes;
  std::vector<int64_t> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = probs.data() + r * classes;
    out[size_t(r)] = int64_t(std::max_element(p, p + classes) - p);  // first on ties
  }
  return out;
}

double accuracy_of(const std::vector<float>& probs, int64_t classes, const std::vector<int64_t>& labels) {
  std::vector<int64_t> pred = argmax_rows(probs, classes);
  EFFNET_CHECK(pred.size() == labels.size(), "accuracy: ", pred.size(), " predictions for ", labels.size(), " labels");
  if (pred.empty()) return 0.0;
  int64_t right = 0;
  for (size_t i = 0; i < pred.size(); ++i) right += pred[i] == labels[i];
  return double(right) / double(pred.size());
}

double mean_nll(const std::vector<float>& probs, int64_t classes, const std::vector<int64_t>& labels) {
  EFFNET_CHECK(int64_t(probs.size()) == int64_t(labels.size()) * classes, "mean_nll: ", probs.size(),
               " probabilities for ", labels.size(), " labels of ", classes, " classes");
  if (labels.empty()) return 0.0;
  double total = 0.0;
  for (size_t i = 0; i < labels.size(); ++i) {
    EFFNET_CHECK(labels[i] >= 0 && labels[i] < classes, "mean_nll: label ", labels[i], " outside [0, ", classes, ")");
    total -= std::log(std::max(double(probs[i * size_t(classes) + size_t(labels[i])]), 1e-12));
  }
  return total / double(labels.size());
}

std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<int64_t>& truth,
                                                   const std::vector<int64_t>& predicted, int64_t classes) {
  EFFNET_CHECK(truth.size() == predicted.size(), "confusion_matrix: ", truth.size(), " labels, ", predicted.size(),
               " predictions");
  std::vector<std::vector<int64_t>> m(size_t(classes), std::vector<int64_t>(size_t(classes), 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    EFFNET_CHECK(truth[i] >= 0 && truth[i] < classes && predicted[i] >= 0 && predicted[i] < classes,
                 "confusion_matrix: label ", truth[i], " / prediction ", predicted[i], " outside [0, ", classes, ")");
    m[size_t(truth[i])][size_t(predicted[i])]++;
  }
  return m;
}

std::string format_confusion(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& classes) {
  const size_t k = counts.size();
  int64_t biggest = 1;
  for (const auto& row : counts)
    for (int64_t v : row) biggest = std::max(biggest, v);
  const size_t w = std::max<size_t>(6, std::to_string(biggest).size() + 1);
  auto right = [&](const std::string& s) { return std::string(w > s.size() ? w - s.size() : 0, ' ') + s; };
  auto name = [&](size_t r) {  // "NN name" in 13 columns
    std::string s = r < classes.size() ? classes[r] : std::to_string(r);
    s = (r < 10 ? " " : "") + std::to_string(r) + " " + s.substr(0, 9);
    return s + std::string(s.size() < 13 ? 13 - s.size() : 0, ' ');
  };
  std::string out = "true \\ predicted\n" + std::string(13, ' ');
  for (size_t c = 0; c < k; ++c) out += right(std::to_string(c));
  out += "\n";
  for (size_t r = 0; r < k; ++r) {
    out += name(r);
    for (size_t c = 0; c < k; ++c) out += right(std::to_string(counts[r][c]));
    out += "\n";
  }
  return out;
}

void write_confusion_csv(const std::string& path, const std::vector<std::vector<int64_t>>& counts,
                         const std::vector<std::string>& classes) {
  data::CsvRow header = {"true\\predicted"};
  header.insert(header.end(), classes.begin(), classes.end());
  std::vector<data::CsvRow> rows;
  for (size_t r = 0; r < counts.size(); ++r) {
    rows.push_back({r < classes.size() ? classes[r] : std::to_string(r)});
    for (int64_t v : counts[r]) rows.back().push_back(std::to_string(v));
  }
  data::write_csv(path, header, rows);
}

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

std::vector<int64_t> labels_at(const data::Dataset& ds, const std::vector<int64_t>& indices) {
  std::vector<int64_t> out;
  out.reserve(indices.size());
  for (int64_t i : indices) out.push_back(ds.labels[size_t(i)]);
  return out;
}

}  // namespace effnet::app
