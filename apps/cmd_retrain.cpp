// `effnet retrain`: continue training the fine-tuned model on the labeled images plus the
// pseudo-labeled ones, with a random validation share, early stopping and the best checkpoint.
// The training set is built as the reference builds X2: the labeled images in split order, then
// the pseudo-labeled ones in list order; RandomState(1).permutation picks the validation share.
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "apps/splits.h"
#include "apps/stages.h"
#include "framework/core/rng.h"

namespace effnet::app {

namespace {
// The samples of `ds` at `indices`, in that order (pixels shared, not copied).
data::Dataset take(const data::Dataset& ds, const std::vector<int64_t>& indices) {
  data::Dataset out;
  out.root = ds.root;
  out.classes = ds.classes;
  for (int64_t i : indices) {
    out.files.push_back(ds.files[size_t(i)]);
    out.images.push_back(ds.images[size_t(i)]);
    out.labels.push_back(ds.labels[size_t(i)]);
  }
  return out;
}
}  // namespace

StageOutcome run_retrain(const RetrainOptions& o) {
  require_dir(o.labeled.dir, "labeled image folder");
  if (!o.labeled.order_csv.empty()) require_file(o.labeled.order_csv, "split order file");
  if (!o.labeled.classes_file.empty()) require_file(o.labeled.classes_file, "class list");
  require_dir(o.unlabeled_dir, "unlabeled image folder");
  require_file(o.pseudo_csv, "pseudo-label list");
  require_file(o.checkpoint, "checkpoint");
  TrainOptions t = o.setup.train;
  t.stage = "retrain";
  check_train_options(t);
  LoadedModel m = load_model(o.checkpoint);
  const int64_t classes = m.meta.config.num_classes;

  data::Dataset lab = load_labeled(o.labeled.dir, o.labeled.classes_file, o.labeled.skip_bad_images);
  EFFNET_CHECK(lab.classes == m.classes, "retrain: the classes of ", o.labeled.dir,
               " differ from those the checkpoint ", o.checkpoint, " was trained on");
  const std::vector<int64_t> order =
      o.labeled.order_csv.empty() ? all_indices(lab.size()) : labeled_order(lab, o.labeled.order_csv, 0);
  const std::vector<data::LabelRow> pseudo_rows = data::read_pseudo_labels(o.pseudo_csv);
  for (const data::LabelRow& r : pseudo_rows)
    EFFNET_CHECK(r.label >= 0 && r.label < classes, o.pseudo_csv, ": ", r.file, " has label ", r.label,
                 " outside the ", classes, " classes");
  data::Dataset combined = take(lab, order);
  if (!pseudo_rows.empty()) {
    combined = data::concat(combined, data::relabel(load_unlabeled(o.unlabeled_dir, o.labeled.skip_bad_images), pseudo_rows));
  }
  const Split split = split_permuted_head(combined.size(), validation_count(combined.size(), o.val), o.split_seed);

  WeightsMeta meta = m.meta;
  const int64_t image_size = o.setup.image_size > 0 ? o.setup.image_size : meta.config.resolution;
  meta.config.resolution = image_size;
  meta.source = "effnet retrain";
  const TrainData td = stage_train_data(combined, split, meta, image_size, o.setup);

  t.settings = {{"stage", "retrain"},
                {"model", meta.config.name},
                {"init", std::filesystem::path(o.checkpoint).filename().string()},
                {"labeled_images", std::to_string(order.size())},
                {"pseudo_images", std::to_string(pseudo_rows.size())},
                {"split", "permutation seed " + std::to_string(o.split_seed)},
                {"train_images", std::to_string(split.train.size())},
                {"val_images", std::to_string(split.val.size())}};
  if (!t.quiet)
    std::printf("retrain: %s on %s from %s, %zu labeled + %zu pseudo-labeled images: %zu train / %zu validation\n",
                meta.config.name.c_str(), t.device.str().c_str(), o.checkpoint.c_str(), order.size(),
                pseudo_rows.size(), split.train.size(), split.val.size());

  manual_seed(t.seed);  // dropout and drop-connect masks; a resumed run restores the generator
  return train_stage(*m.net, meta, td, t, o.setup, m.classes);
}

int cmd_retrain(int argc, char** argv) {
  Args args("retrain",
            "Retrain a fine-tuned checkpoint on the labeled plus the pseudo-labeled images, with a random\n"
            "validation share, early stopping and the best checkpoint in OUT/best.h5 (resumable like finetune).");
  add_labeled_options(args,
                      "a folder in `effnet prepare`'s layout (sets --labeled, --split-order, --classes, --unlabeled)",
                      "CSV file,label: the order of the labeled images in the combined set");
  args.option("unlabeled", "", "folder of the unlabeled images the pseudo-label list names")
      .option("pseudo", "", "pseudo-label list from `effnet pseudolabel` (required)")
      .option("checkpoint", "", "the fine-tuned checkpoint to start from (required)")
      .option("val", "0.25", "validation share (< 1) or count (>= 1) of labeled + pseudo-labeled images")
      .option("split-seed", "1", "numpy RandomState seed of the validation split");
  add_stopping_options(args, "15", "5");
  add_training_options(args);
  if (!args.parse(argc, argv, 2)) return 0;
  RetrainOptions o;
  o.labeled = labeled_source_from(args, "retrain");
  if (!args.str("data").empty()) o.unlabeled_dir = data_layout(args.str("data")).unlabeled;
  if (args.given("unlabeled")) o.unlabeled_dir = args.str("unlabeled");
  o.pseudo_csv = args.str("pseudo");
  o.checkpoint = args.str("checkpoint");
  o.val = args.number("val");
  o.split_seed = uint32_t(args.integer("split-seed"));
  o.setup = training_setup_from(args);
  read_stopping_options(args, "retrain", o.setup);
  run_retrain(o);
  return 0;
}

}  // namespace effnet::app
