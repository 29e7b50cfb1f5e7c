// `effnet pseudolabel`: the pseudo-label stage (apps/pseudolabel.cpp) on a folder of images.
#include "apps/stages.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace effnet::cli {

int cmd_pseudolabel(int argc, char** argv, const Hooks&) {
  Args args("pseudolabel",
            "Run a checkpoint over unlabeled images, sharpen its softmax (p^(1/T), renormalised) and keep the\n"
            "images whose top probability exceeds the threshold. Writes file,label,confidence (atomically).");
  const ImageInputOptions inputs{"model checkpoint, e.g. OUT/best.h5 of finetune (required)",
                                 "unlabeled", "unlabeled image folder", "folder of unlabeled images (required)",
                                 "true-labels", "true-label file",
                                 "CSV file,label of the unlabeled images: report the precision"};
  add_inference_options(args, inputs);
  args.option("out", "", "output CSV (required)")
      .option("temperature", "0.5", "sharpening temperature T", kTemperatureRange)
      .option("threshold", "0.8", "keep images whose sharpened top probability is greater than this", kThresholdRange)
      .flag("adaptive-threshold", "per-class thresholds from --threshold, lower for the classes the model is less\n"
                                  "      sure of (FlexMatch's mapping, over the whole set)")
      .option("per-class-cap", "0", "keep at most N images per class, the most confident (0: no cap)",
              Range::at_least(0))
      .option("limit", "0", "only the first N images in file-name order (0: all)", Range::at_least(0));
  if (!args.parse(argc, argv, 2)) return 0;
  const ImageInputs in = image_inputs_from(args, inputs);
  app::PseudolabelOptions o;
  o.checkpoint = in.checkpoint;
  o.out_csv = args.str("out");
  o.temperature = args.number("temperature");
  o.threshold = args.number("threshold");
  o.adaptive = args.on("adaptive-threshold");
  o.per_class_cap = args.integer("per-class-cap");
  o.limit = args.integer("limit");
  o.run = inference_setup_from(args);
  EFFNET_CHECK(!o.out_csv.empty(), "pseudolabel: an output file is required (--out)");
  app::check_pseudolabel_options(o);
  app::run_pseudolabel(o, load_images(in));
  return 0;
}

}  // namespace effnet::cli
