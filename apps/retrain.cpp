// The retrain stage: continue training the fine-tuned model on the labeled images plus the
// pseudo-labeled ones, with a random validation share, early stopping and the best checkpoint.
// The training set is built as the reference builds X2: the labeled images in split order, then
// the pseudo-labeled ones in list order; RandomState(1).permutation picks the validation share.
// With --labeled-share every batch holds that share of labeled images (oversampled as needed).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "apps/evaluate.h"
#include "apps/stages.h"
#include "framework/core/rng.h"

namespace effnet::app {

namespace {
TrainOptions stage_train_options(const RetrainOptions& o) {
  TrainOptions t = o.setup.train;
  t.stage = "retrain";
  return t;
}
}  // namespace

void check_retrain_options(const RetrainOptions& o) {
  check_train_options(stage_train_options(o));
  EFFNET_CHECK(o.labeled_share >= 0 && o.labeled_share < 1, "retrain: --labeled-share must lie in [0, 1), got ",
               o.labeled_share);
}

TrainingRecord run_retrain(const RetrainOptions& o, const data::Dataset& lab, const data::Dataset& unlabeled) {
  check_retrain_options(o);
  require_file(o.pseudo_csv, "pseudo-label list");
  require_file(o.checkpoint, "checkpoint");
  TrainOptions t = stage_train_options(o);
  LoadedModel m = load_model(o.checkpoint);
  const int64_t classes = m.meta.config.num_classes;

  EFFNET_CHECK(lab.classes == m.classes, "retrain: the classes of ", lab.root,
               " differ from those the checkpoint ", o.checkpoint, " was trained on");
  const std::vector<int64_t> order =
      o.labeled.order_csv.empty() ? all_indices(lab.size()) : labeled_order(lab, o.labeled.order_csv, 0);
  const std::vector<data::LabelRow> pseudo_rows = data::read_pseudo_labels(o.pseudo_csv);
  for (const data::LabelRow& r : pseudo_rows)
    EFFNET_CHECK(r.label >= 0 && r.label < classes, o.pseudo_csv, ": ", r.file, " has label ", r.label,
                 " outside the ", classes, " classes");
  data::Dataset combined = data::subset(lab, order);
  if (!pseudo_rows.empty()) combined = data::concat(combined, data::relabel(unlabeled, pseudo_rows));
  const Split split = split_permuted_head(combined.size(), validation_count(combined.size(), o.val), o.split_seed);

  WeightsMeta meta = m.meta;
  const int64_t image_size = input_resolution(meta, o.setup.image_size);
  meta.config.resolution = image_size;
  meta.source = "effnet retrain";
  TrainData td = stage_train_data(combined, split, meta, image_size, o.setup);
  // The combined set holds the labeled images first, so they are the indices below order.size().
  // A training split without one of the two groups (a tiny or empty pseudo-label list) trains on
  // what it has, saying so.
  const int64_t labeled_end = int64_t(order.size());
  const auto is_labeled = [&](int64_t i) { return i < labeled_end; };
  const bool any_labeled = std::any_of(split.train.begin(), split.train.end(), is_labeled);
  const bool all_labeled = std::all_of(split.train.begin(), split.train.end(), is_labeled);
  if (o.labeled_share > 0 && any_labeled && !all_labeled) {
    td.first_group_end = labeled_end;
    td.first_group_share = o.labeled_share;
    char note[96];
    std::snprintf(note, sizeof note, "labeled images (--labeled-share %g)", o.labeled_share);
    td.first_group_note = note;
  } else if (o.labeled_share > 0 && !t.quiet) {
    std::printf("retrain: --labeled-share %g ignored: the training split holds %s\n", o.labeled_share,
                any_labeled ? "no pseudo-labeled images" : "no labeled images");
  }

  t.settings = {{"stage", "retrain"},
                {"model", meta.config.name},
                {"init", std::filesystem::path(o.checkpoint).filename().string()},
                {"labeled_images", std::to_string(order.size())},
                {"pseudo_images", std::to_string(pseudo_rows.size())},
                {"split", "permutation seed " + std::to_string(o.split_seed)},
                {"train_images", std::to_string(split.train.size())},
                {"val_images", std::to_string(split.val.size())}};
  if (o.labeled_share > 0) {  // listed only when on, so that earlier runs still resume
    char share[32];
    std::snprintf(share, sizeof share, "%.10g", o.labeled_share);
    t.settings.emplace_back("labeled_share", share);
  }
  if (!t.quiet) {
    std::printf("retrain: %s on %s from %s, %zu labeled + %zu pseudo-labeled images: %zu train / %zu validation"
                " at %lldx%lld\n",
                meta.config.name.c_str(), t.device.str().c_str(), o.checkpoint.c_str(), order.size(),
                pseudo_rows.size(), split.train.size(), split.val.size(), (long long)image_size, (long long)image_size);
  }

  manual_seed(t.seed);  // dropout and drop-connect masks; a resumed run restores the generator
  return train_stage(*m.net, meta, td, t, o.setup, m.classes);
}

}  // namespace effnet::app
