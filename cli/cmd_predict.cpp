// `effnet predict`: the predict stage (apps/predict.cpp) on a folder of images.
#include "apps/evaluate.h"
#include "apps/stages.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "framework/dist/process_group.h"

namespace effnet::cli {

int cmd_predict(int argc, char** argv, const Hooks&) {
  Args args("predict",
            "Classify the images of a folder with a checkpoint (or weights file); writes file,class,confidence.\n"
            "With --labels, prints the accuracy and the confusion matrix (also written with --confusion).");
  const ImageInputOptions inputs{"checkpoint or weights file (required)",
                                 "input", "image folder", "folder of images (required)",
                                 "labels", "label file", "CSV file,label of the images: accuracy and confusion matrix"};
  add_inference_options(args, inputs);
  args.option("out", "predictions.csv", "output CSV")
      .option("confusion", "", "write the confusion matrix to this CSV (needs --labels)")
      .option("class-names", "", "class names, one per line (default: the checkpoint's, or ImageNet's for 1000)");
  if (!args.parse(argc, argv, 2)) return 0;
  EFFNET_CHECK(args.str("confusion").empty() || !args.str("labels").empty(), "predict: --confusion needs --labels");
  const ImageInputs in = image_inputs_from(args, inputs);
  app::PredictOptions o;
  o.checkpoint = in.checkpoint;
  o.out_csv = args.str("out");
  o.class_names_file = args.str("class-names");
  o.run = inference_setup_from(args);
  app::check_predict_options(o);
  const app::PredictRecord r = app::run_predict(o, load_images(in));
  if (!args.str("confusion").empty() && dist::is_main()) app::write_confusion_csv(args.str("confusion"), r.confusion, r.classes);
  return 0;
}

}  // namespace effnet::cli
