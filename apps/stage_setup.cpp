// What the stages share (see stages.h): their training data, and the command-line options of
// the training and inference subcommands.
#include <cstdio>

#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "apps/stages.h"

namespace effnet::app {

void add_training_options(Args& args) {
  args.option("image-size", "0", "input resolution (0: the model's own, e.g. 224 for b0)")
      .option("flip", "0.5", "probability of a random horizontal flip")
      .option("crop-padding", "0", "random crop from the image zero-padded by this many pixels (0: no crop)")
      .option("optimizer", "sgd", "sgd | adam | adamw | rmsprop")
      .option("lr", "0.005", "learning rate")
      .option("momentum", "0.9", "momentum (sgd, rmsprop)")
      .option("weight-decay", "1e-4", "weight decay (L2; decoupled for adamw)")
      .option("schedule", "constant", "learning-rate schedule: constant | step | cosine")
      .option("warmup-epochs", "0", "cosine: epochs of linear warm-up")
      .option("step-epochs", "10", "step: epochs between decays")
      .option("gamma", "0.1", "step: decay factor")
      .option("min-lr", "0", "cosine: final learning rate")
      .option("batch", "128", "training batch size")
      .option("eval-batch", "0", "evaluation batch size (0: twice the training batch)")
      .option("seed", "0", "seed of the initialisation, batch order, augmentation and dropout")
      .option("device", "auto", "auto (cuda when a GPU is visible) | cpu | cuda")
      .option("workers", "0", "batch-preparing threads (0: 4 with a GPU, 1 on the CPU)")
      .option("log-every", "20", "batches between log lines when stdout is not a terminal")
      .option("stop-after-steps", "0", "testing: exit with status 75 after this many optimizer steps (a simulated crash)");
}

TrainingSetup training_setup_from(const Args& args) {
  TrainingSetup s;
  s.image_size = args.integer("image-size");
  s.flip = args.number("flip");
  s.crop_padding = args.integer("crop-padding");
  EFFNET_CHECK(s.image_size >= 0, "--image-size must be >= 0");
  EFFNET_CHECK(s.flip >= 0 && s.flip <= 1, "--flip must be a probability, got ", s.flip);
  EFFNET_CHECK(s.crop_padding >= 0, "--crop-padding must be >= 0");
  TrainOptions& t = s.train;
  t.optimizer = args.str("optimizer");
  t.lr = args.number("lr");
  t.momentum = args.number("momentum");
  t.weight_decay = args.number("weight-decay");
  t.schedule = args.str("schedule");
  t.warmup_epochs = args.number("warmup-epochs");
  t.step_epochs = args.number("step-epochs");
  t.gamma = args.number("gamma");
  t.min_lr = args.number("min-lr");
  t.batch = args.integer("batch");
  t.eval_batch = args.integer("eval-batch") > 0 ? args.integer("eval-batch") : 2 * t.batch;
  const int64_t seed = args.integer("seed");
  EFFNET_CHECK(seed >= 0, "--seed must be >= 0");
  t.seed = uint64_t(seed);
  t.device = choose_device(args.str("device"));
  t.workers = loader_workers(t.device, args.integer("workers"));
  t.log_every = args.integer("log-every");
  t.stop_after_steps = args.integer("stop-after-steps");
  return s;
}

void add_labeled_options(Args& args, const char* data_help, const char* order_help) {
  args.option("data", "", data_help)
      .option("labeled", "", "labeled image tree <dir>/<class>/<file>")
      .option("split-order", "", order_help)
      .option("classes", "", "class names in label order, one per line (default: sorted folder names)")
      .flag("skip-bad-images", "leave out unreadable images (listed) instead of stopping");
}

LabeledSource labeled_source_from(const Args& args, const char* command) {
  LabeledSource src;
  if (!args.str("data").empty()) {
    const DataLayout d = data_layout(args.str("data"));
    src.dir = d.labeled;
    src.order_csv = d.order_csv;
    src.classes_file = d.classes_file;
  }
  if (args.given("labeled")) src.dir = args.str("labeled");
  if (args.given("split-order")) src.order_csv = args.str("split-order");
  if (args.given("classes")) src.classes_file = args.str("classes");
  EFFNET_CHECK(!src.dir.empty(), command, ": give --data DIR or --labeled DIR");
  src.skip_bad_images = args.on("skip-bad-images");
  return src;
}

void add_stopping_options(Args& args, const char* epochs, const char* patience) {
  args.option("epochs", epochs, "maximum epochs")
      .option("patience", patience, "stop after this many epochs without a better validation accuracy (0: never)")
      .option("out", "", "output folder (required)");
}

void read_stopping_options(const Args& args, const char* command, TrainingSetup& setup) {
  setup.train.epochs = args.integer("epochs");
  setup.train.patience = args.integer("patience");
  setup.train.out_dir = args.str("out");
  EFFNET_CHECK(!setup.train.out_dir.empty(), command, ": --out DIR is required");
}

void add_inference_options(Args& args) {
  args.option("batch", "256", "batch size")
      .option("image-size", "0", "input resolution (0: the checkpoint's)")
      .option("device", "auto", "auto | cpu | cuda")
      .option("workers", "0", "batch-preparing threads (0: 4 with a GPU, 1 on the CPU)")
      .flag("skip-bad-images", "leave out unreadable images (listed) instead of stopping");
}

InferenceSetup inference_setup_from(const Args& args) {
  InferenceSetup s;
  s.batch = args.integer("batch");
  s.image_size = args.integer("image-size");
  s.device = choose_device(args.str("device"));
  s.workers = loader_workers(s.device, args.integer("workers"));
  s.skip_bad_images = args.on("skip-bad-images");
  return s;
}

TrainData stage_train_data(const data::Dataset& ds, const Split& split, const WeightsMeta& meta, int64_t image_size,
                           const TrainingSetup& setup) {
  TrainData td;
  td.dataset = &ds;
  td.train = split.train;
  td.val = split.val;
  td.eval_transform = eval_transform(meta, image_size);
  td.train_transform = td.eval_transform;
  td.train_transform.flip_prob = setup.flip;
  td.train_transform.crop_padding = int(setup.crop_padding);
  return td;
}

std::vector<float> run_inference(LoadedModel& model, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                 const InferenceSetup& setup, const char* label) {
  model.net->to(setup.device);
  EvalOptions eval;
  eval.batch = setup.batch;
  eval.workers = setup.workers;
  eval.device = setup.device;
  eval.progress_label = setup.quiet ? "" : label;
  return predict_probabilities(*model.net, ds, indices, eval_transform(model.meta, setup.image_size), eval);
}

StageOutcome train_stage(EfficientNet& net, const WeightsMeta& meta, const TrainData& td, TrainOptions t,
                         const TrainingSetup& setup, const std::vector<std::string>& classes) {
  for (auto& kv : training_settings(setup)) t.settings.push_back(kv);
  for (auto& kv : class_settings(classes)) t.settings.push_back(kv);
  StageOutcome out;
  out.result = train_model(net, meta, td, t);
  out.classes = classes;
  out.train_images = int64_t(td.train.size());
  out.val_images = int64_t(td.val.size());
  return out;
}

Settings training_settings(const TrainingSetup& s) {
  const TrainOptions& t = s.train;
  auto num = [](double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", x);
    return std::string(buf);
  };
  Settings out = {{"image_size", std::to_string(s.image_size)},
                  {"flip", num(s.flip)},
                  {"crop_padding", std::to_string(s.crop_padding)},
                  {"optimizer", t.optimizer},
                  {"lr", num(t.lr)},
                  {"momentum", num(t.momentum)},
                  {"weight_decay", num(t.weight_decay)},
                  {"schedule", t.schedule}};
  if (t.schedule == "step") {
    out.emplace_back("step_epochs", num(t.step_epochs));
    out.emplace_back("gamma", num(t.gamma));
  } else if (t.schedule == "cosine") {
    out.emplace_back("warmup_epochs", num(t.warmup_epochs));
    out.emplace_back("min_lr", num(t.min_lr));
  }
  out.emplace_back("batch", std::to_string(t.batch));
  out.emplace_back("epochs", std::to_string(t.epochs));
  out.emplace_back("patience", std::to_string(t.patience));
  out.emplace_back("head_only", t.head_only ? "1" : "0");
  out.emplace_back("seed", std::to_string(t.seed));
  return out;
}

}  // namespace effnet::app
