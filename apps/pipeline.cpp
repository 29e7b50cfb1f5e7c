// The pipeline (see pipeline.h).
#include "apps/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>

#include "apps/evaluate.h"
#include "apps/progress.h"
#include "apps/report.h"
#include "apps/stage_record.h"
#include "framework/core/atomic_file.h"
#include "framework/dist/process_group.h"

namespace effnet::app {
namespace fs = std::filesystem;

namespace {

void banner(const char* text) {
  std::printf("\n== %s ==\n", text);
  std::fflush(stdout);
}

// The one step every stage goes through: its record from OUT/<stage>/done.txt when the stage is
// done, else the stage is run and its record written.
template <class Record, class Run>
Record run_or_resume(const std::string& stage_dir, const char* title, Run&& run) {
  banner(title);
  if (has_record(stage_dir)) {
    std::printf("already done (%s)\n", record_path(stage_dir).c_str());
    return read_record<Record>(stage_dir);
  }
  Record r = run();
  if (dist::is_main()) write_record(stage_dir, r);
  // Data-parallel: no rank looks at the next stage (or reads this one's files, as retrain reads the
  // pseudo-labels) before rank 0 has written them.
  dist::barrier();
  return r;
}

// An image folder decoded on first use, then shared by the stages that need it.
class Images {
 public:
  explicit Images(std::function<data::Dataset()> load) : load_(std::move(load)) {}
  const data::Dataset& get() {
    if (!ds_) ds_ = load_();
    return *ds_;
  }

 private:
  std::function<data::Dataset()> load_;
  std::optional<data::Dataset> ds_;
};

// The folder's settings must be this run's: a folder holding another configuration is not
// silently mixed with this one.
// Options added after the folder was written are missing from it: at their built-in values they
// change nothing, so they count as stored with those values.
void claim_folder(const std::string& out, const Settings& identity, const Settings& defaults) {
  fs::create_directories(out);
  const std::string conf = (fs::path(out) / "pipeline.conf").string();
  if (fs::exists(conf)) {
    std::vector<ConfigEntry> stored = read_config_file(conf);
    // A plain loop variable, not a structured binding: C++17 lambdas cannot capture bindings.
    for (const auto& entry : defaults) {
      const std::string& key = entry.first;
      const bool present =
          std::any_of(stored.begin(), stored.end(), [&](const ConfigEntry& e) { return e.key == key; });
      if (!present) stored.push_back({key, entry.second, 0});
    }
    std::string listed;
    for (const std::string& s : settings_differences(stored, identity)) listed += "\n  " + s;
    EFFNET_CHECK(listed.empty(), out, " holds a pipeline run with other settings:", listed,
                 "\nuse another --out folder, or delete this one to start over");
  } else if (dist::is_main()) {
    write_file_atomic(conf, "# effnet pipeline settings of this output folder\n" + format_settings(identity));
  }
}

}  // namespace

PipelineResults run_pipeline(const PipelineOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  EFFNET_CHECK(!o.out_dir.empty(), "pipeline: --out DIR is required");
  const DataLayout& d = o.data;
  EFFNET_CHECK(!d.unlabeled.empty(), "pipeline: the data folder has no unlabeled/ folder");
  EFFNET_CHECK(!d.test.empty() && !d.test_labels.empty(), "pipeline: the data folder needs test/ and test_labels.csv");
  EFFNET_CHECK(o.rounds >= 1, "pipeline: --rounds must be at least 1, got ", o.rounds);
  const fs::path out(o.out_dir);
  const std::string fdir = (out / "finetune").string(), pdir = (out / "pseudolabel").string();
  const std::string rdir = (out / "retrain").string(), tdir = (out / "predict").string();
  // Round k's folders: round 1 keeps the plain names.
  auto round_dir = [&](const std::string& base, int64_t k) {
    return k == 1 ? (out / base).string() : (out / (base + "-" + std::to_string(k))).string();
  };
  const int64_t stages = 2 + 2 * o.rounds;
  auto title = [&](int64_t stage, const std::string& what) {
    return "stage " + std::to_string(stage) + "/" + std::to_string(stages) + ": " + what;
  };

  // The stages' options, tied together; everything is checked before any work.
  const LabeledSource labeled_source{d.labeled, d.order_csv, d.classes_file, o.skip_bad_images};
  FinetuneOptions fo = o.finetune;
  fo.labeled = labeled_source;
  fo.setup.train.out_dir = fdir;
  PseudolabelOptions po = o.pseudolabel;
  po.out_csv = (out / "pseudolabel" / "pseudo_labels.csv").string();
  po.run = o.inference;
  RetrainOptions ro = o.retrain;
  ro.labeled = labeled_source;
  ro.pseudo_csv = po.out_csv;
  ro.setup.train.out_dir = rdir;
  PredictOptions test;
  test.run = o.inference;
  check_finetune_options(fo);
  check_pseudolabel_options(po);  // the checkpoint comes from fine-tuning
  check_retrain_options(ro);
  check_predict_options(test);
  claim_folder(o.out_dir, o.identity, o.identity_defaults);
  dist::barrier();  // every rank has compared the folder's settings before rank 0 may write any
  const std::string model = fo.weights.empty() ? fo.model : check_weights_file(fo.weights, fo.model).config.name;
  std::printf("pipeline: %s on %s -> %s\n", model.c_str(), fo.setup.train.device.str().c_str(), o.out_dir.c_str());

  Images labeled([&] { return load_labeled(labeled_source); });
  // With its true labels when the folder has them: pseudo-labelling then measures its precision
  // (retraining labels these images from the pseudo-label list only).
  Images unlabeled([&] { return load_test(d.unlabeled, d.unlabeled_labels, o.skip_bad_images); });
  Images test_images([&] { return load_test(d.test, d.test_labels, o.skip_bad_images); });

  PipelineResults res;
  res.finetune = run_or_resume<FinetuneStageRecord>(fdir, title(1, "fine-tune").c_str(), [&] {
    FinetuneStageRecord r;
    r.training = run_finetune(fo, labeled.get());
    PredictOptions p = test;
    p.checkpoint = r.training.best_checkpoint;
    p.out_csv = (fs::path(fdir) / "test_predictions.csv").string();
    std::printf("fine-tune: test accuracy of %s\n", p.checkpoint.c_str());
    r.test = run_predict(p, test_images.get());
    return r;
  });
  // Each round labels with the model before it (round 1: the fine-tuned one) and trains it further.
  std::string model_so_far = res.finetune.training.best_checkpoint;
  for (int64_t k = 1; k <= o.rounds; ++k) {
    const std::string round = o.rounds > 1 ? " (round " + std::to_string(k) + " of " + std::to_string(o.rounds) + ")" : "";
    po.checkpoint = model_so_far;
    po.out_csv = (fs::path(round_dir("pseudolabel", k)) / "pseudo_labels.csv").string();
    const PseudolabelRecord p = run_or_resume<PseudolabelRecord>(
        round_dir("pseudolabel", k), title(2 * k, "pseudo-label" + round).c_str(),
        [&] { return run_pseudolabel(po, unlabeled.get()); });
    ro.checkpoint = model_so_far;
    ro.pseudo_csv = po.out_csv;
    ro.setup.train.out_dir = round_dir("retrain", k);
    const TrainingRecord t = run_or_resume<TrainingRecord>(round_dir("retrain", k), title(2 * k + 1, "retrain" + round).c_str(),
                                                           [&] { return run_retrain(ro, labeled.get(), unlabeled.get()); });
    if (k == 1) {
      res.pseudolabel = p;
      res.retrain = t;
    } else {
      res.later_rounds.push_back({p, t});
    }
    model_so_far = t.best_checkpoint;
  }
  res.predict = run_or_resume<PredictRecord>(tdir, title(stages, "predict").c_str(), [&] {
    PredictOptions p = test;
    p.checkpoint = model_so_far;
    p.out_csv = (fs::path(tdir) / "predictions.csv").string();
    PredictRecord r = run_predict(p, test_images.get());
    if (dist::is_main()) write_confusion_csv((fs::path(tdir) / "confusion.csv").string(), r.confusion, r.classes);
    return r;
  });

  res.title = "effnet pipeline: " + model + " (" + o.out_dir + ")";
  res.model = model;
  res.device = fo.setup.train.device.str();
  res.classes = res.final_retrain().classes;
  res.settings = format_settings(o.identity);
  if (dist::is_main()) {
    write_file_atomic((out / "results.md").string(), render_markdown(res));
    write_file_atomic((out / "results.json").string(), render_json(res));
    write_file_atomic((out / "report.html").string(), render_report(res));
  }

  banner("results");
  std::printf("%s", render_text(res).c_str());
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::printf("\n(this run: %s wall) results.json, results.md, report.html in %s\n", format_duration(wall).c_str(),
              o.out_dir.c_str());
  return res;
}

}  // namespace effnet::app
