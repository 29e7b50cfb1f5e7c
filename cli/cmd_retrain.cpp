// `effnet retrain`: the retrain stage (apps/retrain.cpp) on labeled + pseudo-labeled images.
#include "apps/stages.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace effnet::cli {

int cmd_retrain(int argc, char** argv, const Hooks& hooks) {
  Args args("retrain",
            "Retrain a fine-tuned checkpoint on the labeled plus the pseudo-labeled images, with a random\n"
            "validation share, early stopping and the best checkpoint in OUT/best.h5 (resumable like finetune).");
  add_labeled_options(args,
                      "a folder in `effnet prepare`'s layout (sets --labeled, --split-order, --classes, --unlabeled)",
                      "CSV file,label: the order of the labeled images in the combined set");
  args.option("unlabeled", "", "folder of the unlabeled images the pseudo-label list names")
      .option("pseudo", "", "pseudo-label list from `effnet pseudolabel` (required)")
      .option("checkpoint", "", "the fine-tuned checkpoint to start from (required)")
      .option("val", "0.25", "validation share (< 1) or count (>= 1) of labeled + pseudo-labeled images", kValidationRange)
      .option("split-seed", "1", "numpy RandomState seed of the validation split", kSplitSeedRange)
      .option("labeled-share", "0", "share of each batch taken from the labeled images, which are oversampled\n"
                                    "      as needed (0: batches drawn from labeled and pseudo-labeled alike)",
              Range::from_below(0, 1));
  add_stopping_options(args, "15", "5");
  add_training_options(args);
  if (!args.parse(argc, argv, 2)) return 0;
  app::RetrainOptions o;
  o.labeled = labeled_source_from(args, "retrain");
  std::string unlabeled = args.str("unlabeled");
  if (!args.given("unlabeled") && !args.str("data").empty()) unlabeled = app::data_layout(args.str("data")).unlabeled;
  o.pseudo_csv = args.str("pseudo");
  o.checkpoint = args.str("checkpoint");
  o.val = args.number("val");
  o.split_seed = uint32_t(args.integer("split-seed"));
  o.labeled_share = args.number("labeled-share");
  o.setup = training_setup_from(args, hooks);
  read_stopping_options(args, "retrain", o.setup);
  app::require_file(o.pseudo_csv, "pseudo-label list");
  app::require_file(o.checkpoint, "checkpoint");
  app::require_dir(unlabeled, "unlabeled image folder");
  app::check_retrain_options(o);
  app::run_retrain(o, app::load_labeled(o.labeled), app::load_unlabeled(unlabeled, o.labeled.skip_bad_images));
  return 0;
}

}  // namespace effnet::cli
