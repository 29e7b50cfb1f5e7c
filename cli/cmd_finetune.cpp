// `effnet finetune`: the fine-tune stage (apps/finetune.cpp) on a labeled folder.
#include "apps/stages.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace effnet::cli {

int cmd_finetune(int argc, char** argv, const Hooks& hooks) {
  Args args("finetune",
            "Train an EfficientNet on labeled images (DATA/<class>/<file>), from scratch or from a weights file\n"
            "with a new classifier. Keeps OUT/best.h5 (best validation accuracy) and OUT/last.h5 (resumable:\n"
            "run the same command again after an interruption and it continues after the last finished epoch).");
  add_labeled_options(args, "a folder in `effnet prepare`'s layout (sets --labeled, --split-order, --classes)",
                      "CSV file,label giving the split order: the last --val images validate");
  args.option("val", "0.1", "validation share (< 1) or count (>= 1) of the labeled images", kValidationRange)
      .option("split-seed", "0", "without --split-order: numpy RandomState seed of the split", kSplitSeedRange)
      .option("model", "b0", "b0..b7, lite0..lite4 (with --weights: defaults to the file's)")
      .option("weights", "", "start from this weights file (HDF5; a new classifier when the classes differ)")
      .flag("head-only", "train only the classifier (backbone frozen, its batch norms in eval mode)");
  add_stopping_options(args, "30", "10");
  add_training_options(args);
  if (!args.parse(argc, argv, 2)) return 0;

  app::FinetuneOptions o;
  o.labeled = labeled_source_from(args, "finetune");
  o.val = args.number("val");
  o.split_seed = uint32_t(args.integer("split-seed"));
  o.weights = args.str("weights");
  o.model = o.weights.empty() || args.given("model") ? args.str("model") : "";
  o.setup = training_setup_from(args, hooks);
  read_stopping_options(args, "finetune", o.setup);
  o.setup.train.head_only = args.on("head-only");
  app::check_finetune_options(o);
  app::run_finetune(o, app::load_labeled(o.labeled));
  return 0;
}

}  // namespace effnet::cli
