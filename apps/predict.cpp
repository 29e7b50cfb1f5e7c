// The predict stage: a checkpoint over a set of images -> CSV (file,class,confidence); with
// labelled images, the accuracy and the confusion matrix too.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/evaluate.h"
#include "apps/stages.h"
#include "framework/data/csv.h"
#include "framework/dist/process_group.h"

namespace effnet::app {

void check_predict_options(const PredictOptions& o) {
  if (!o.checkpoint.empty()) require_file(o.checkpoint, "checkpoint");
  if (!o.class_names_file.empty()) require_file(o.class_names_file, "class list");
  EFFNET_CHECK(o.run.batch > 0, "predict: --batch must be positive");
}

PredictRecord run_predict(const PredictOptions& o, const data::Dataset& ds) {
  check_predict_options(o);
  require_file(o.checkpoint, "checkpoint");
  LoadedModel m = load_model(o.checkpoint, o.class_names_file);
  const int64_t classes = m.meta.config.num_classes;
  const bool labelled = ds.labeled();
  if (labelled)
    for (size_t i = 0; i < ds.labels.size(); ++i)
      EFFNET_CHECK(ds.labels[i] < classes, ds.root, ": ", ds.files[i], " has label ", ds.labels[i],
                   " but the model has ", classes, " classes");

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> probs = run_inference(m, ds, all_indices(ds.size()), o.run, "predict");
  const std::vector<int64_t> pred = argmax_rows(probs, classes);

  PredictRecord r;
  r.images = ds.size();
  r.classes = m.classes;
  if (!o.out_csv.empty() && dist::is_main()) {  // data-parallel: rank 0 writes
    std::vector<data::CsvRow> rows;
    rows.reserve(pred.size());
    char conf[32];
    for (size_t i = 0; i < pred.size(); ++i) {
      std::snprintf(conf, sizeof conf, "%.6f", double(probs[i * size_t(classes) + size_t(pred[i])]));
      rows.push_back({ds.files[i], m.classes[size_t(pred[i])], conf});
    }
    std::filesystem::path parent = std::filesystem::path(o.out_csv).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    data::write_csv(o.out_csv, {"file", "class", "confidence"}, rows);
  }
  if (labelled) {
    r.accuracy = accuracy_of(probs, classes, ds.labels);
    r.confusion = confusion_matrix(ds.labels, pred, classes);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.run.quiet) {
    std::printf("predict: %lld images%s%s\n", (long long)r.images, o.out_csv.empty() ? "" : " -> ",
                o.out_csv.c_str());
    if (labelled)
      std::printf("predict: accuracy %.2f%% (labels of %s)\n%s", 100.0 * r.accuracy, ds.root.c_str(),
                  format_confusion(r.confusion, r.classes).c_str());
  }
  return r;
}

}  // namespace effnet::app
