// `effnet finetune`: train an EfficientNet on the labeled images (from scratch or from a weights
// file with a new classifier), keeping the best checkpoint by validation accuracy.
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/model_setup.h"
#include "apps/splits.h"
#include "apps/stages.h"
#include "framework/core/rng.h"

namespace effnet::app {

namespace {
std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }
}  // namespace

StageOutcome run_finetune(const FinetuneOptions& o) {
  // Everything that can be checked before the work starts.
  require_dir(o.labeled.dir, "labeled image folder");
  if (!o.labeled.order_csv.empty()) require_file(o.labeled.order_csv, "split order file");
  if (!o.labeled.classes_file.empty()) require_file(o.labeled.classes_file, "class list");
  std::string model = o.model;
  WeightsMeta meta;
  if (!o.weights.empty()) {
    meta = check_weights_file(o.weights, model);
    model = meta.config.name;
  } else {
    EFFNET_CHECK(!model.empty(), "finetune: name a model (--model b0) or a weights file (--weights FILE)");
    check_model_name(model);
  }
  TrainOptions t = o.setup.train;
  t.stage = "finetune";
  check_train_options(t);

  data::Dataset ds = load_labeled(o.labeled.dir, o.labeled.classes_file, o.labeled.skip_bad_images);
  const int64_t classes = int64_t(ds.classes.size());
  EFFNET_CHECK(classes >= 2, "finetune: ", o.labeled.dir, " has ", classes, " class folder; at least 2 are needed");
  const std::vector<int64_t> order = labeled_order(ds, o.labeled.order_csv, o.split_seed);
  const Split split = split_tail(order, validation_count(ds.size(), o.val));

  manual_seed(t.seed);
  std::shared_ptr<EfficientNet> net;
  if (!o.weights.empty()) {
    net = load_efficientnet(o.weights, classes, &meta);
  } else {
    net = make_efficientnet(model, classes);
    meta.config = net->config();
    meta.source = "effnet finetune (from scratch)";
  }
  const int64_t image_size = o.setup.image_size > 0 ? o.setup.image_size : meta.config.resolution;
  meta.config.resolution = image_size;  // what predict and pseudolabel resize to

  const TrainData td = stage_train_data(ds, split, meta, image_size, o.setup);

  t.settings = {{"stage", "finetune"},
                {"model", model},
                {"init", o.weights.empty() ? "scratch" : "weights " + file_name(o.weights)},
                {"split", o.labeled.order_csv.empty() ? "permutation seed " + std::to_string(o.split_seed)
                                                      : "order " + file_name(o.labeled.order_csv)},
                {"train_images", std::to_string(split.train.size())},
                {"val_images", std::to_string(split.val.size())}};
  if (!t.quiet)
    std::printf("finetune: %s on %s, %lld classes, %zu train / %zu validation images at %lldx%lld, %s\n",
                model.c_str(), t.device.str().c_str(), (long long)classes, split.train.size(), split.val.size(),
                (long long)image_size, (long long)image_size,
                o.weights.empty() ? "from scratch" : ("from " + o.weights).c_str());

  return train_stage(*net, meta, td, t, o.setup, ds.classes);
}

int cmd_finetune(int argc, char** argv) {
  Args args("finetune",
            "Train an EfficientNet on labeled images (DATA/<class>/<file>), from scratch or from a weights file\n"
            "with a new classifier. Keeps OUT/best.h5 (best validation accuracy) and OUT/last.h5 (resumable:\n"
            "run the same command again after an interruption and it continues after the last finished epoch).");
  add_labeled_options(args, "a folder in `effnet prepare`'s layout (sets --labeled, --split-order, --classes)",
                      "CSV file,label giving the split order: the last --val images validate");
  args.option("val", "0.1", "validation share (< 1) or count (>= 1) of the labeled images")
      .option("split-seed", "0", "without --split-order: numpy RandomState seed of the split")
      .option("model", "b0", "b0..b7, lite0..lite4 (with --weights: defaults to the file's)")
      .option("weights", "", "start from this weights file (HDF5; a new classifier when the classes differ)")
      .flag("head-only", "train only the classifier (backbone frozen, its batch norms in eval mode)");
  add_stopping_options(args, "30", "10");
  add_training_options(args);
  if (!args.parse(argc, argv, 2)) return 0;

  FinetuneOptions o;
  o.labeled = labeled_source_from(args, "finetune");
  o.val = args.number("val");
  o.split_seed = uint32_t(args.integer("split-seed"));
  o.weights = args.str("weights");
  o.model = o.weights.empty() || args.given("model") ? args.str("model") : "";
  o.setup = training_setup_from(args);
  read_stopping_options(args, "finetune", o.setup);
  o.setup.train.head_only = args.on("head-only");
  run_finetune(o);
  return 0;
}

}  // namespace effnet::app
