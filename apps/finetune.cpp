// The fine-tune stage: train an EfficientNet on the labeled images (from scratch or from a weights
// file with a new classifier), keeping the best checkpoint by validation accuracy.
#include <cstdio>
#include <filesystem>

#include "apps/stages.h"
#include "framework/core/rng.h"

namespace effnet::app {

namespace {
std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

TrainOptions stage_train_options(const FinetuneOptions& o) {
  TrainOptions t = o.setup.train;
  t.stage = "finetune";
  return t;
}
}  // namespace

void check_finetune_options(const FinetuneOptions& o) {
  if (o.weights.empty()) {
    EFFNET_CHECK(!o.model.empty(), "finetune: name a model (--model b0) or a weights file (--weights FILE)");
    check_model_name(o.model);
  } else {
    check_weights_file(o.weights, o.model);
  }
  check_train_options(stage_train_options(o));
}

TrainingRecord run_finetune(const FinetuneOptions& o, const data::Dataset& ds) {
  check_finetune_options(o);
  std::string model = o.model;
  WeightsMeta meta;
  if (!o.weights.empty()) {
    meta = check_weights_file(o.weights, model);
    model = meta.config.name;
  }
  TrainOptions t = stage_train_options(o);
  const int64_t classes = int64_t(ds.classes.size());
  EFFNET_CHECK(classes >= 2, "finetune: ", ds.root, " has ", classes, " class folder; at least 2 are needed");
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
  const int64_t image_size = input_resolution(meta, o.setup.image_size);
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

}  // namespace effnet::app
