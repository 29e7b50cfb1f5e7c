// `effnet pipeline`: the whole recipe (apps/pipeline.h) from a config file and flags.
#include <optional>
#include <set>

#include "apps/pipeline.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace effnet::cli {

namespace {

// Options that change how a run goes but not what it computes: they may differ between a run and
// its resumption.
// sync-bn is left out here because it means something only under mpirun, where the training
// loop records it (with the world size) in the checkpoints' settings.
const std::set<std::string> kRuntimeKeys = {"config",    "out",        "data",       "device",          "workers",
                                            "log-every", "eval-batch", "sync-bn",    "nondeterministic"};

void declare(Args& args) {
  args.option("config", "", "a 'key = value' file of these options (without the dashes); the command line wins")
      .option("data", "", "dataset folder in `effnet prepare`'s layout: labeled/, labeled_order.csv, unlabeled/,\n"
                          "      unlabeled_labels.csv (optional: precision), test/, test_labels.csv (required)")
      .option("out", "", "output folder (required); run again with the same folder to resume")
      .option("model", "b0", "b0..b7, lite0..lite4 (with --weights: must match the file)")
      .option("weights", "", "start fine-tuning from this weights file instead of from scratch")
      .flag("head-only", "fine-tune only the classifier (retrain then trains the whole network)")
      .option("finetune-epochs", "30", "fine-tune: maximum epochs", kEpochsRange)
      .option("finetune-patience", "10", "fine-tune: early-stopping patience in epochs (0: none)", kPatienceRange)
      .option("finetune-val", "0.1", "fine-tune: validation share or count of the labeled images", kValidationRange)
      .option("finetune-image-size", "0", "fine-tune: input resolution (0: --image-size); pseudo-labelling then runs at\n"
                                          "      the fine-tuned model's resolution, retraining and prediction at --image-size",
              kImageSizeRange)
      .option("split-seed", "0", "fine-tune: split seed when the data has no labeled_order.csv", kSplitSeedRange)
      .option("temperature", "0.5", "pseudo-label: sharpening temperature T", kTemperatureRange)
      .option("threshold", "0.8", "pseudo-label: keep images whose sharpened confidence exceeds this", kThresholdRange)
      .flag("adaptive-threshold", "pseudo-label: per-class thresholds from --threshold (FlexMatch's mapping)")
      .option("per-class-cap", "0", "pseudo-label: at most N images per class, the most confident (0: no cap)",
              Range::at_least(0))
      .option("pseudo-limit", "0", "pseudo-label: only the first N unlabeled images (0: all)", Range::at_least(0))
      .option("rounds", "1", "self-training rounds: each pseudo-labels again with the model before it and retrains",
              Range::between(1, 100))
      .option("retrain-epochs", "15", "retrain: maximum epochs", kEpochsRange)
      .option("retrain-patience", "5", "retrain: early-stopping patience in epochs (0: none)", kPatienceRange)
      .option("retrain-val", "0.25", "retrain: validation share of labeled + pseudo-labeled images", kValidationRange)
      .option("retrain-split-seed", "1", "retrain: numpy RandomState seed of the validation split", kSplitSeedRange)
      .option("retrain-labeled-share", "0", "retrain: share of each batch taken from the labeled images, oversampled\n"
                                            "      as needed (0: batches drawn from labeled and pseudo-labeled alike)",
              Range::from_below(0, 1))
      .flag("skip-bad-images", "leave out unreadable images (listed) instead of stopping");
  add_training_options(args);
}

// A config file's values become the options' defaults: the command line still wins.
void apply_config_file(Args& args) {
  const std::string path = args.str("config");
  if (path.empty()) return;
  app::require_file(path, "config file");
  for (const app::ConfigEntry& e : app::read_config_file(path)) {
    EFFNET_CHECK(args.has(e.key) && e.key != "config", path, ":", e.line, ": unknown key '", e.key,
                 "' (keys are the option names of `effnet pipeline --help`, without the dashes)");
    if (!args.given(e.key)) args.set_default(e.key, e.value, "config file " + path + ":" + std::to_string(e.line));
  }
}

}  // namespace

std::optional<app::PipelineOptions> pipeline_options(int argc, char** argv, const Hooks& hooks) {
  Args args("pipeline",
            "Fine-tune -> pseudo-label -> retrain -> predict in one output folder, from one config file (key = value\n"
            "lines naming these options) and/or flags. Resumable: run the same command again after an interruption.\n"
            "Prints the results table and writes OUT/results.json, OUT/results.md and OUT/report.html.");
  declare(args);
  if (!args.parse(argc, argv, 2)) return std::nullopt;
  apply_config_file(args);

  app::PipelineOptions o;
  o.out_dir = args.str("out");
  EFFNET_CHECK(!o.out_dir.empty(), "pipeline: --out DIR is required");
  EFFNET_CHECK(!args.str("data").empty(), "pipeline: --data DIR is required (see `effnet prepare`)");
  o.data = app::data_layout(args.str("data"));
  o.skip_bad_images = args.on("skip-bad-images");

  const app::TrainingSetup setup = training_setup_from(args, hooks);
  o.finetune.val = args.number("finetune-val");
  o.finetune.split_seed = uint32_t(args.integer("split-seed"));
  o.finetune.weights = args.str("weights");
  o.finetune.model = o.finetune.weights.empty() || args.given("model") ? args.str("model") : "";
  o.finetune.setup = setup;
  if (args.integer("finetune-image-size") > 0) {
    // Retraining continues from the fine-tuned checkpoint, whose resolution is then not the model's own.
    EFFNET_CHECK(setup.image_size > 0, "pipeline: --finetune-image-size needs --image-size too (the resolution of "
                                       "retraining and prediction)");
    o.finetune.setup.image_size = args.integer("finetune-image-size");
  }
  o.finetune.setup.train.epochs = args.integer("finetune-epochs");
  o.finetune.setup.train.patience = args.integer("finetune-patience");
  o.finetune.setup.train.head_only = args.on("head-only");

  o.pseudolabel.temperature = args.number("temperature");
  o.pseudolabel.threshold = args.number("threshold");
  o.pseudolabel.limit = args.integer("pseudo-limit");
  o.pseudolabel.adaptive = args.on("adaptive-threshold");
  o.pseudolabel.per_class_cap = args.integer("per-class-cap");

  o.rounds = args.integer("rounds");
  o.retrain.val = args.number("retrain-val");
  o.retrain.split_seed = uint32_t(args.integer("retrain-split-seed"));
  o.retrain.labeled_share = args.number("retrain-labeled-share");
  o.retrain.setup = setup;
  o.retrain.setup.train.epochs = args.integer("retrain-epochs");
  o.retrain.setup.train.patience = args.integer("retrain-patience");

  o.inference.batch = setup.train.eval_batch;
  o.inference.device = setup.train.device;
  o.inference.workers = setup.train.workers;
  o.inference.mirror_average = setup.train.mirror_average;

  for (const auto& [k, v] : args.values())
    if (!kRuntimeKeys.count(k)) {
      o.identity.emplace_back(k, v);
      o.identity_defaults.emplace_back(k, args.builtin_default(k));
    }
  return o;
}

int cmd_pipeline(int argc, char** argv, const Hooks& hooks) {
  const std::optional<app::PipelineOptions> o = pipeline_options(argc, argv, hooks);
  if (o) app::run_pipeline(*o);
  return 0;
}

}  // namespace effnet::cli
