// `effnet pseudolabel`: the pseudo-label stage (apps/pseudolabel.cpp) on a folder of images.
#include "apps/stages.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace effnet::cli {

int cmd_pseudolabel(int argc, char** argv, const Hooks&) {
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
  app::PseudolabelOptions o;
  o.checkpoint = args.str("checkpoint");
  o.out_csv = args.str("out");
  o.temperature = args.number("temperature");
  o.threshold = args.number("threshold");
  o.limit = args.integer("limit");
  o.run = inference_setup_from(args);
  const std::string dir = args.str("unlabeled"), truth = args.str("true-labels");
  app::require_file(o.checkpoint, "checkpoint");
  EFFNET_CHECK(!o.out_csv.empty(), "pseudolabel: an output file is required (--out)");
  app::require_dir(dir, "unlabeled image folder");
  if (!truth.empty()) app::require_file(truth, "true-label file");
  app::check_pseudolabel_options(o);
  app::run_pseudolabel(o, app::load_test(dir, truth, args.on("skip-bad-images")));
  return 0;
}

}  // namespace effnet::cli
