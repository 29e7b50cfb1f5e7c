// `effnet pseudolabel`: label the unlabeled images with a checkpoint's sharpened predictions,
// keeping only the confident ones, and write the list (file,label,confidence).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include "apps/commands.h"
#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "apps/pseudo_label.h"
#include "apps/stages.h"

namespace effnet::app {

PseudolabelResult run_pseudolabel(const PseudolabelOptions& o) {
  require_file(o.checkpoint, "checkpoint");
  require_dir(o.unlabeled_dir, "unlabeled image folder");
  if (!o.true_labels_csv.empty()) require_file(o.true_labels_csv, "true-label file");
  EFFNET_CHECK(!o.out_csv.empty(), "pseudolabel: an output file is required (--out)");
  EFFNET_CHECK(o.temperature > 0, "pseudolabel: --temperature must be positive, got ", o.temperature);
  EFFNET_CHECK(o.threshold >= 0 && o.threshold < 1, "pseudolabel: --threshold must lie in [0, 1), got ", o.threshold);
  EFFNET_CHECK(o.limit >= 0 && o.run.batch > 0, "pseudolabel: --limit must be >= 0 and --batch > 0");
  LoadedModel m = load_model(o.checkpoint);
  const int64_t classes = m.meta.config.num_classes;

  const auto t0 = std::chrono::steady_clock::now();
  const data::Dataset ds = load_unlabeled(o.unlabeled_dir, o.run.skip_bad_images);
  const int64_t n = o.limit > 0 ? std::min(o.limit, ds.size()) : ds.size();
  const std::vector<int64_t> indices = all_indices(n);

  std::vector<int64_t> truth;
  if (!o.true_labels_csv.empty()) {
    std::unordered_map<std::string, int64_t> label_of;
    for (const data::LabelRow& r : data::read_label_csv(o.true_labels_csv)) label_of[r.file] = r.label;
    for (int64_t i : indices) {
      auto it = label_of.find(ds.files[size_t(i)]);
      EFFNET_CHECK(it != label_of.end(), o.true_labels_csv, ": no true label for ", ds.files[size_t(i)]);
      truth.push_back(it->second);
    }
  }

  const std::vector<float> probs = run_inference(m, ds, indices, o.run, "pseudolabel");
  const std::vector<PseudoLabel> kept =
      select_confident(sharpen(probs, classes, o.temperature), classes, o.threshold);

  std::vector<data::LabelRow> rows;
  rows.reserve(kept.size());
  for (const PseudoLabel& k : kept) rows.push_back({ds.files[size_t(indices[size_t(k.row)])], k.label, k.confidence});
  std::filesystem::path parent = std::filesystem::path(o.out_csv).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  data::write_pseudo_labels(o.out_csv, rows);

  PseudolabelResult r;
  r.considered = n;
  r.kept = int64_t(kept.size());
  r.per_class = count_per_class(kept, classes);
  r.classes = m.classes;
  if (!truth.empty()) {
    r.precision = pseudo_label_precision(kept, truth);
    r.correct_per_class.assign(size_t(classes), 0);
    for (const PseudoLabel& k : kept) r.correct_per_class[size_t(k.label)] += truth[size_t(k.row)] == k.label;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!o.run.quiet) {
    std::printf("pseudolabel: kept %lld of %lld images (sharpened with T = %g, confidence > %g) -> %s\n",
                (long long)r.kept, (long long)n, o.temperature, o.threshold, o.out_csv.c_str());
    std::printf("  %-3s %-14s %8s%s\n", "#", "class", "kept", truth.empty() ? "" : "  precision");
    for (int64_t c = 0; c < classes; ++c) {
      std::printf("  %-3lld %-14s %8lld", (long long)c, r.classes[size_t(c)].c_str(), (long long)r.per_class[size_t(c)]);
      if (!truth.empty() && r.per_class[size_t(c)] > 0)
        std::printf("  %8.2f%%", 100.0 * double(r.correct_per_class[size_t(c)]) / double(r.per_class[size_t(c)]));
      std::printf("\n");
    }
    if (!truth.empty()) std::printf("pseudolabel: precision %.2f%% (%s)\n", 100.0 * r.precision, o.true_labels_csv.c_str());
  }
  return r;
}

int cmd_pseudolabel(int argc, char** argv) {
  Args args("pseudolabel",
            "Run a checkpoint over unlabeled images, sharpen its softmax (p^(1/T), renormalised) and keep the\n"
            "images whose top probability exceeds the threshold. Writes file,label,confidence (atomically).");
  args.option("checkpoint", "", "model checkpoint, e.g. OUT/best.h5 of finetune (required)")
      .option("unlabeled", "", "folder of unlabeled images (required)")
      .option("out", "", "output CSV (required)")
      .option("true-labels", "", "CSV file,label of the unlabeled images: report the precision")
      .option("temperature", "0.5", "sharpening temperature T")
      .option("threshold", "0.8", "keep images whose sharpened top probability is greater than this")
      .option("limit", "0", "only the first N images in file-name order (0: all)");
  add_inference_options(args);
  if (!args.parse(argc, argv, 2)) return 0;
  PseudolabelOptions o;
  o.checkpoint = args.str("checkpoint");
  o.unlabeled_dir = args.str("unlabeled");
  o.out_csv = args.str("out");
  o.true_labels_csv = args.str("true-labels");
  o.temperature = args.number("temperature");
  o.threshold = args.number("threshold");
  o.limit = args.integer("limit");
  o.run = inference_setup_from(args);
  run_pseudolabel(o);
  return 0;
}

}  // namespace effnet::app
