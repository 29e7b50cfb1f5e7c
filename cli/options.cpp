// The subcommands' shared option groups (see options.h).
#include "cli/options.h"

#include "framework/core/context.h"

namespace effnet::cli {

void add_training_options(Args& args) {
  args.option("image-size", "0", "input resolution (0: the model's own, e.g. 224 for b0)", kImageSizeRange)
      .option("flip", "0.5", "probability of a random horizontal flip", Range::between(0, 1))
      .option("crop-padding", "0", "random crop from the image zero-padded by this many pixels (0: no crop)",
              Range::between(0, kMaxResolution))
      .option("optimizer", "sgd", "sgd | adam | adamw | rmsprop")
      .option("lr", "0.005", "learning rate", Range::above(0))
      .option("momentum", "0.9", "momentum (sgd, rmsprop)", Range::from_below(0, 1))
      .option("weight-decay", "1e-4", "weight decay (L2; decoupled for adamw)", Range::at_least(0))
      .option("schedule", "constant", "learning-rate schedule: constant | step | cosine")
      .option("warmup-epochs", "0", "cosine: epochs of linear warm-up", Range::at_least(0))
      .option("step-epochs", "10", "step: epochs between decays", Range::above(0))
      .option("gamma", "0.1", "step: decay factor", Range::between(0, 1))
      .option("min-lr", "0", "cosine: final learning rate", Range::at_least(0))
      .option("label-smoothing", "0", "cross-entropy label smoothing eps (PyTorch's: targets (1 - eps) one-hot + eps / C)",
              Range::from_below(0, 1))
      .option("ema", "0", "decay of an exponential moving average of the weights, which validation, best.h5 and\n"
                          "      pseudo-labelling use (e.g. 0.99; warms up as min(decay, (1 + t) / (10 + t)); 0: none)",
              Range::from_below(0, 1))
      .option("erase", "0", "probability of random erasing: a rectangle of 2-33 % of the image, aspect 0.3-3.3, set to\n"
                            "      the mean (0 after normalisation), as torchvision's RandomErasing", Range::between(0, 1))
      .flag("tta", "test-time augmentation: predictions (validation, pseudo-labels, test) average the softmax of\n"
                   "      each image and of its mirror image")
      .option("batch", "128", "training batch size (per rank under mpirun: the global batch is N x this)", kBatchRange)
      .option("eval-batch", "0", "evaluation batch size (0: twice the training batch)", Range::between(0, kMaxBatch))
      .option("seed", "0", "seed of the initialisation, batch order, augmentation and dropout", Range::at_least(0))
      .option("device", "auto", "auto (cuda when a GPU is visible) | cpu | cuda")
      .option("workers", "0", "batch-preparing threads (0: 4 with a GPU, 1 on the CPU)", kWorkersRange)
      .option("log-every", "20", "batches between log lines when stdout is not a terminal (0: none)", Range::at_least(0))
      .flag("sync-bn", "under mpirun: batch-norm statistics over all ranks' batches (default: each rank its own)")
      .flag("nondeterministic", "GPU: allow cuDNN algorithms that are faster but not bit-reproducible (default: "
                                "deterministic, which exact resumption relies on)");
}

app::TrainingSetup training_setup_from(const Args& args, const Hooks& hooks) {
  app::TrainingSetup s;
  s.image_size = args.integer("image-size");
  s.flip = args.number("flip");
  s.crop_padding = args.integer("crop-padding");
  s.erase = args.number("erase");
  app::TrainOptions& t = s.train;
  t.optimizer = {args.str("optimizer"), args.number("lr"), args.number("momentum"), args.number("weight-decay")};
  t.schedule = {args.str("schedule"), args.number("warmup-epochs"), args.number("step-epochs"), args.number("gamma"),
                args.number("min-lr")};
  t.label_smoothing = args.number("label-smoothing");
  t.ema_decay = args.number("ema");
  t.mirror_average = args.on("tta");
  t.batch = args.integer("batch");
  t.eval_batch = args.integer("eval-batch") > 0 ? args.integer("eval-batch") : 2 * t.batch;
  t.seed = uint64_t(args.integer("seed"));
  t.device = app::choose_device(args.str("device"));
  t.workers = app::loader_workers(t.device, args.integer("workers"));
  t.log_every = args.integer("log-every");
  t.after_step = hooks.after_step;
  t.sync_bn = args.on("sync-bn");
  cuda::set_deterministic_algorithms(!args.on("nondeterministic"));
  return s;
}

void add_labeled_options(Args& args, const char* data_help, const char* order_help) {
  args.option("data", "", data_help)
      .option("labeled", "", "labeled image tree <dir>/<class>/<file>")
      .option("split-order", "", order_help)
      .option("classes", "", "class names in label order, one per line (default: sorted folder names)")
      .flag("skip-bad-images", "leave out unreadable images (listed) instead of stopping");
}

app::LabeledSource labeled_source_from(const Args& args, const char* command) {
  app::LabeledSource src;
  if (!args.str("data").empty()) {
    const app::DataLayout d = app::data_layout(args.str("data"));
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
  args.option("epochs", epochs, "maximum epochs", kEpochsRange)
      .option("patience", patience, "stop after this many epochs without a better validation accuracy (0: never)",
              kPatienceRange)
      .option("out", "", "output folder (required)");
}

void read_stopping_options(const Args& args, const char* command, app::TrainingSetup& setup) {
  setup.train.epochs = args.integer("epochs");
  setup.train.patience = args.integer("patience");
  setup.train.out_dir = args.str("out");
  EFFNET_CHECK(!setup.train.out_dir.empty(), command, ": --out DIR is required");
}

void add_inference_options(Args& args, const ImageInputOptions& in) {
  args.option("checkpoint", "", in.checkpoint_help)
      .option(in.folder, "", in.folder_help)
      .option(in.labels, "", in.labels_help)
      .option("batch", "256", "batch size", kBatchRange)
      .option("image-size", "0", "input resolution (0: the checkpoint's)", kImageSizeRange)
      .option("device", "auto", "auto | cpu | cuda")
      .option("workers", "0", "batch-preparing threads (0: 4 with a GPU, 1 on the CPU)", kWorkersRange)
      .flag("tta", "test-time augmentation: average the softmax of each image and of its mirror image")
      .flag("skip-bad-images", "leave out unreadable images (listed) instead of stopping");
}

ImageInputs image_inputs_from(const Args& args, const ImageInputOptions& in) {
  ImageInputs r{args.str("checkpoint"), args.str(in.folder), args.str(in.labels), args.on("skip-bad-images")};
  app::require_file(r.checkpoint, "checkpoint");
  app::require_dir(r.folder, in.folder_what);
  if (!r.labels_csv.empty()) app::require_file(r.labels_csv, in.labels_what);
  return r;
}

data::Dataset load_images(const ImageInputs& in) { return app::load_test(in.folder, in.labels_csv, in.skip_bad_images); }

app::InferenceSetup inference_setup_from(const Args& args) {
  app::InferenceSetup s;
  s.batch = args.integer("batch");
  s.image_size = args.integer("image-size");
  s.device = app::choose_device(args.str("device"));
  s.workers = app::loader_workers(s.device, args.integer("workers"));
  s.mirror_average = args.on("tta");
  return s;
}

}  // namespace effnet::cli
