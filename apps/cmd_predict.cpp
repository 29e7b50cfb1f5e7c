// `effnet predict`: a checkpoint over a folder of images -> CSV (file,class,confidence); with
// labels, the accuracy and the confusion matrix too.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "apps/stages.h"
#include "framework/data/image.h"

namespace effnet::app {

namespace {
// CSV cells are class names: quote those that need it.
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
}  // namespace

std::string confusion_csv(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& classes) {
  std::string out = "true\\predicted";
  for (const std::string& c : classes) out += "," + csv_cell(c);
  out += "\n";
  for (size_t r = 0; r < counts.size(); ++r) {
    out += csv_cell(r < classes.size() ? classes[r] : std::to_string(r));
    for (int64_t v : counts[r]) out += "," + std::to_string(v);
    out += "\n";
  }
  return out;
}

PredictResult run_predict(const PredictOptions& o) {
  require_file(o.checkpoint, "checkpoint");
  require_dir(o.input_dir, "image folder");
  if (!o.labels_csv.empty()) require_file(o.labels_csv, "label file");
  if (!o.class_names_file.empty()) require_file(o.class_names_file, "class list");
  EFFNET_CHECK(o.run.batch > 0, "predict: --batch must be positive");
  LoadedModel m = load_model(o.checkpoint, o.class_names_file);
  const int64_t classes = m.meta.config.num_classes;

  const auto t0 = std::chrono::steady_clock::now();
  const data::Dataset ds = load_test(o.input_dir, o.labels_csv, o.run.skip_bad_images);
  if (!o.labels_csv.empty())
    for (size_t i = 0; i < ds.labels.size(); ++i)
      EFFNET_CHECK(ds.labels[i] >= 0 && ds.labels[i] < classes, o.labels_csv, ": ", ds.files[i], " has label ",
                   ds.labels[i], " but the model has ", classes, " classes");

  const std::vector<float> probs = run_inference(m, ds, all_indices(ds.size()), o.run, "predict");
  const std::vector<int64_t> pred = argmax_rows(probs, classes);

  PredictResult r;
  r.images = ds.size();
  r.classes = m.classes;
  if (!o.out_csv.empty()) {
    std::string csv = "file,class,confidence\n";
    char conf[32];
    for (size_t i = 0; i < pred.size(); ++i) {
      std::snprintf(conf, sizeof conf, "%.6f", double(probs[i * size_t(classes) + size_t(pred[i])]));
      csv += csv_cell(ds.files[i]) + "," + csv_cell(m.classes[size_t(pred[i])]) + "," + conf + "\n";
    }
    std::filesystem::path parent = std::filesystem::path(o.out_csv).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    data::write_file_atomic(o.out_csv, csv.data(), csv.size());
  }
  if (!o.labels_csv.empty()) {
    r.accuracy = accuracy_of(probs, classes, ds.labels);
    r.confusion = confusion_matrix(ds.labels, pred, classes);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.run.quiet) {
    std::printf("predict: %lld images%s%s\n", (long long)r.images, o.out_csv.empty() ? "" : " -> ",
                o.out_csv.c_str());
    if (r.accuracy >= 0) {
      std::printf("predict: accuracy %.2f%% (%s)\n%s", 100.0 * r.accuracy, o.labels_csv.c_str(),
                  format_confusion(r.confusion, r.classes).c_str());
    }
  }
  return r;
}

int cmd_predict(int argc, char** argv) {
  Args args("predict",
            "Classify the images of a folder with a checkpoint (or weights file); writes file,class,confidence.\n"
            "With --labels, prints the accuracy and the confusion matrix (also written with --confusion).");
  args.option("checkpoint", "", "checkpoint or weights file (required)")
      .option("input", "", "folder of images (required)")
      .option("labels", "", "CSV file,label of the images: accuracy and confusion matrix")
      .option("out", "predictions.csv", "output CSV")
      .option("confusion", "", "write the confusion matrix to this CSV (needs --labels)")
      .option("class-names", "", "class names, one per line (default: the checkpoint's, or ImageNet's for 1000)");
  add_inference_options(args);
  if (!args.parse(argc, argv, 2)) return 0;
  PredictOptions o;
  o.checkpoint = args.str("checkpoint");
  o.input_dir = args.str("input");
  o.labels_csv = args.str("labels");
  o.out_csv = args.str("out");
  o.class_names_file = args.str("class-names");
  o.run = inference_setup_from(args);
  EFFNET_CHECK(args.str("confusion").empty() || !o.labels_csv.empty(), "predict: --confusion needs --labels");
  PredictResult r = run_predict(o);
  if (!args.str("confusion").empty()) {
    const std::string csv = confusion_csv(r.confusion, r.classes);
    data::write_file_atomic(args.str("confusion"), csv.data(), csv.size());
  }
  return 0;
}

}  // namespace effnet::app
