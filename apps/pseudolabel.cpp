// The pseudo-label stage: label the unlabeled images with a checkpoint's sharpened predictions,
// keeping only the confident ones, and write the list (file,label,confidence).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/evaluate.h"
#include "apps/pseudo_label.h"
#include "apps/stages.h"
#include "framework/dist/process_group.h"

namespace effnet::app {

void check_pseudolabel_options(const PseudolabelOptions& o) {
  if (!o.checkpoint.empty()) require_file(o.checkpoint, "checkpoint");
  EFFNET_CHECK(o.temperature > 0, "pseudolabel: --temperature must be positive, got ", o.temperature);
  EFFNET_CHECK(o.threshold >= 0 && o.threshold < 1, "pseudolabel: --threshold must lie in [0, 1), got ", o.threshold);
  EFFNET_CHECK(o.limit >= 0 && o.run.batch > 0, "pseudolabel: --limit must be >= 0 and --batch > 0");
  EFFNET_CHECK(o.per_class_cap >= 0, "pseudolabel: --per-class-cap must be >= 0 (0: none), got ", o.per_class_cap);
}

PseudolabelRecord run_pseudolabel(const PseudolabelOptions& o, const data::Dataset& ds) {
  check_pseudolabel_options(o);
  require_file(o.checkpoint, "checkpoint");
  EFFNET_CHECK(!o.out_csv.empty(), "pseudolabel: an output file is required (--out)");
  LoadedModel m = load_model(o.checkpoint);
  const int64_t classes = m.meta.config.num_classes;

  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = o.limit > 0 ? std::min(o.limit, ds.size()) : ds.size();
  const std::vector<int64_t> indices = all_indices(n);
  const bool measured = ds.labeled();  // the images carry their true labels

  const std::vector<float> probs = run_inference(m, ds, indices, o.run, "pseudolabel");
  const std::vector<float> sharpened = sharpen(probs, classes, o.temperature);
  const std::vector<double> thresholds = o.adaptive ? adaptive_thresholds(sharpened, classes, o.threshold)
                                                    : std::vector<double>(size_t(classes), o.threshold);
  const std::vector<PseudoLabel> kept =
      cap_per_class(select_confident(sharpened, classes, thresholds), classes, o.per_class_cap);

  std::vector<data::LabelRow> rows;
  rows.reserve(kept.size());
  for (const PseudoLabel& k : kept) rows.push_back({ds.files[size_t(indices[size_t(k.row)])], k.label, k.confidence});
  std::filesystem::path parent = std::filesystem::path(o.out_csv).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  if (dist::is_main()) data::write_pseudo_labels(o.out_csv, rows);  // data-parallel: rank 0 writes

  PseudolabelRecord r;
  r.considered = n;
  r.kept = int64_t(kept.size());
  r.per_class = count_per_class(kept, classes);
  r.thresholds = thresholds;
  if (measured) {
    const std::vector<int64_t> truth = labels_at(ds, indices);
    r.precision = pseudo_label_precision(kept, truth);
    r.correct_per_class.assign(size_t(classes), 0);
    for (const PseudoLabel& k : kept) r.correct_per_class[size_t(k.label)] += truth[size_t(k.row)] == k.label;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!o.run.quiet) {
    const long long size = input_resolution(m.meta, o.run.image_size);
    std::printf("pseudolabel: kept %lld of %lld images at %lldx%lld (sharpened with T = %g, confidence > %g%s%s) -> %s\n",
                (long long)r.kept, (long long)n, size, size, o.temperature, o.threshold,
                o.adaptive ? ", adapted per class" : "",
                o.per_class_cap > 0 ? (", at most " + std::to_string(o.per_class_cap) + " per class").c_str() : "",
                o.out_csv.c_str());
    std::printf("  %-3s %-14s %9s %8s%s\n", "#", "class", "threshold", "kept", measured ? "  precision" : "");
    for (int64_t c = 0; c < classes; ++c) {
      std::printf("  %-3lld %-14s %9.4f %8lld", (long long)c, m.classes[size_t(c)].c_str(), thresholds[size_t(c)],
                  (long long)r.per_class[size_t(c)]);
      if (measured && r.per_class[size_t(c)] > 0)
        std::printf("  %8.2f%%", 100.0 * double(r.correct_per_class[size_t(c)]) / double(r.per_class[size_t(c)]));
      std::printf("\n");
    }
    if (measured) std::printf("pseudolabel: precision %.2f%% (true labels of %s)\n", 100.0 * r.precision, ds.root.c_str());
  }
  return r;
}

}  // namespace effnet::app
