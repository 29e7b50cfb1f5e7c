// `effnet pipeline`: the whole semi-supervised recipe from one configuration into one folder:
//   OUT/finetune/     best.h5, last.h5, metrics.csv/json, test_predictions.csv, done.txt
//   OUT/pseudolabel/  pseudo_labels.csv, done.txt
//   OUT/retrain/      best.h5, last.h5, metrics.csv/json, done.txt
//   OUT/predict/      predictions.csv, confusion.csv, done.txt
//   OUT/pipeline.conf the run's settings; OUT/results.{json,md}; OUT/report.html
// Run it again after an interruption: finished stages (done.txt) are skipped and the stage that
// was running resumes from its last completed epoch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "apps/commands.h"
#include "apps/json_writer.h"
#include "apps/model_setup.h"
#include "apps/progress.h"
#include "apps/report.h"
#include "apps/stage_marker.h"
#include "apps/stages.h"
#include "framework/data/image.h"

namespace effnet::app {
namespace fs = std::filesystem;

namespace {

// Options that change how a run goes but not what it computes: they may differ between a run and
// its resumption.
const std::set<std::string> kRuntimeKeys = {"config", "out",       "data",      "device",
                                            "workers", "log-every", "eval-batch", "stop-after-steps"};

void declare(Args& args) {
  args.option("config", "", "a 'key = value' file of these options (without the dashes); the command line wins")
      .option("data", "", "dataset folder in `effnet prepare`'s layout: labeled/, labeled_order.csv, unlabeled/,\n"
                          "      unlabeled_labels.csv (optional: precision), test/, test_labels.csv (required)")
      .option("out", "", "output folder (required); run again with the same folder to resume")
      .option("model", "b0", "b0..b7, lite0..lite4 (with --weights: must match the file)")
      .option("weights", "", "start fine-tuning from this weights file instead of from scratch")
      .flag("head-only", "fine-tune only the classifier (retrain then trains the whole network)")
      .option("finetune-epochs", "30", "fine-tune: maximum epochs")
      .option("finetune-patience", "10", "fine-tune: early-stopping patience in epochs (0: none)")
      .option("finetune-val", "0.1", "fine-tune: validation share or count of the labeled images")
      .option("split-seed", "0", "fine-tune: split seed when the data has no labeled_order.csv")
      .option("temperature", "0.5", "pseudo-label: sharpening temperature T")
      .option("threshold", "0.8", "pseudo-label: keep images whose sharpened confidence exceeds this")
      .option("pseudo-limit", "0", "pseudo-label: only the first N unlabeled images (0: all)")
      .option("retrain-epochs", "15", "retrain: maximum epochs")
      .option("retrain-patience", "5", "retrain: early-stopping patience in epochs (0: none)")
      .option("retrain-val", "0.25", "retrain: validation share of labeled + pseudo-labeled images")
      .option("retrain-split-seed", "1", "retrain: numpy RandomState seed of the validation split")
      .flag("skip-bad-images", "leave out unreadable images (listed) instead of stopping");
  add_training_options(args);
}

void apply_config_file(Args& args) {
  const std::string path = args.str("config");
  if (path.empty()) return;
  require_file(path, "config file");
  for (const ConfigEntry& e : read_config_file(path)) {
    EFFNET_CHECK(args.has(e.key) && e.key != "config", path, ":", e.line, ": unknown key '", e.key,
                 "' (keys are the option names of `effnet pipeline --help`, without the dashes)");
    if (!args.given(e.key)) args.set_default(e.key, e.value);
  }
}

std::string fmt_percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * x);
  return buf;
}

std::string percent(double x) { return x < 0 ? "n/a" : fmt_percent(x); }

struct StageTimes {
  double finetune = 0, pseudolabel = 0, retrain = 0, predict = 0;
};

void banner(const char* text) {
  std::printf("\n== %s ==\n", text);
  std::fflush(stdout);
}

}  // namespace

int cmd_pipeline(int argc, char** argv) {
  Args args("pipeline",
            "Fine-tune -> pseudo-label -> retrain -> predict in one output folder, from one config file (key = value\n"
            "lines naming these options) and/or flags. Resumable: run the same command again after an interruption.\n"
            "Prints the results table and writes OUT/results.json, OUT/results.md and OUT/report.html.");
  declare(args);
  if (!args.parse(argc, argv, 2)) return 0;
  apply_config_file(args);
  const auto t_start = std::chrono::steady_clock::now();

  // ---- everything checked before any work ----
  const std::string out = args.str("out");
  EFFNET_CHECK(!out.empty(), "pipeline: --out DIR is required");
  EFFNET_CHECK(!args.str("data").empty(), "pipeline: --data DIR is required (see `effnet prepare`)");
  const DataLayout d = data_layout(args.str("data"));
  EFFNET_CHECK(!d.unlabeled.empty(), "pipeline: ", args.str("data"), " has no unlabeled/ folder");
  EFFNET_CHECK(!d.test.empty() && !d.test_labels.empty(), "pipeline: ", args.str("data"),
               " needs test/ and test_labels.csv");
  std::string model = args.str("model");
  if (!args.str("weights").empty()) {
    WeightsMeta meta = check_weights_file(args.str("weights"), args.given("model") ? model : "");
    model = meta.config.name;
  } else {
    check_model_name(model);
  }

  TrainingSetup setup = training_setup_from(args);
  FinetuneOptions fo;
  fo.labeled = {d.labeled, d.order_csv, d.classes_file, args.on("skip-bad-images")};
  fo.val = args.number("finetune-val");
  fo.split_seed = uint32_t(args.integer("split-seed"));
  fo.model = model;
  fo.weights = args.str("weights");
  fo.setup = setup;
  fo.setup.train.epochs = args.integer("finetune-epochs");
  fo.setup.train.patience = args.integer("finetune-patience");
  fo.setup.train.head_only = args.on("head-only");
  fo.setup.train.out_dir = (fs::path(out) / "finetune").string();
  fo.setup.train.stage = "finetune";
  check_train_options(fo.setup.train);

  RetrainOptions ro;
  ro.labeled = fo.labeled;
  ro.unlabeled_dir = d.unlabeled;
  ro.pseudo_csv = (fs::path(out) / "pseudolabel" / "pseudo_labels.csv").string();
  ro.checkpoint = (fs::path(fo.setup.train.out_dir) / "best.h5").string();
  ro.val = args.number("retrain-val");
  ro.split_seed = uint32_t(args.integer("retrain-split-seed"));
  ro.setup = setup;
  ro.setup.train.epochs = args.integer("retrain-epochs");
  ro.setup.train.patience = args.integer("retrain-patience");
  ro.setup.train.out_dir = (fs::path(out) / "retrain").string();
  ro.setup.train.stage = "retrain";
  check_train_options(ro.setup.train);

  InferenceSetup inference;
  inference.batch = setup.train.eval_batch;
  inference.device = setup.train.device;
  inference.workers = setup.train.workers;
  inference.skip_bad_images = args.on("skip-bad-images");
  PseudolabelOptions po;
  po.checkpoint = ro.checkpoint;
  po.unlabeled_dir = d.unlabeled;
  po.out_csv = ro.pseudo_csv;
  po.true_labels_csv = d.unlabeled_labels;
  po.temperature = args.number("temperature");
  po.threshold = args.number("threshold");
  po.limit = args.integer("pseudo-limit");
  po.run = inference;
  EFFNET_CHECK(po.temperature > 0 && po.threshold >= 0 && po.threshold < 1,
               "pipeline: --temperature must be positive and --threshold in [0, 1)");

  PredictOptions test;
  test.input_dir = d.test;
  test.labels_csv = d.test_labels;
  test.run = inference;

  // The run's identity: a folder holding another configuration is not silently mixed with this one.
  Settings identity;
  for (const auto& [k, v] : args.values())
    if (!kRuntimeKeys.count(k)) identity.emplace_back(k, v);
  fs::create_directories(out);
  const std::string conf_path = (fs::path(out) / "pipeline.conf").string();
  if (fs::exists(conf_path)) {
    std::vector<std::string> diffs = settings_differences(read_config_file(conf_path), identity);
    std::string listed;
    for (const std::string& s : diffs) listed += "\n  " + s;
    EFFNET_CHECK(diffs.empty(), out, " holds a pipeline run with other settings:", listed,
                 "\nuse another --out folder, or delete this one to start over");
  } else {
    const std::string text = "# effnet pipeline settings of this output folder\n" + format_settings(identity);
    data::write_file_atomic(conf_path, text.data(), text.size());
  }
  std::printf("pipeline: %s on %s -> %s\n", model.c_str(), setup.train.device.str().c_str(), out.c_str());

  // ---- 1. fine-tune (+ test accuracy of its best checkpoint) ----
  const std::string fdir = fo.setup.train.out_dir;
  banner("stage 1/4: fine-tune");
  if (!stage_done(fdir)) {
    StageOutcome so = run_finetune(fo);
    PredictOptions p = test;
    p.checkpoint = so.result.best_path;
    p.out_csv = (fs::path(fdir) / "test_predictions.csv").string();
    std::printf("fine-tune: test accuracy of %s\n", p.checkpoint.c_str());
    PredictResult pr = run_predict(p);
    write_marker(fdir, {{"best_val_accuracy", encode_number(so.result.best_val_accuracy)},
                        {"best_epoch", std::to_string(so.result.best_epoch)},
                        {"epochs", std::to_string(so.result.epochs_run)},
                        {"train_images", std::to_string(so.train_images)},
                        {"val_images", std::to_string(so.val_images)},
                        {"test_accuracy", encode_number(pr.accuracy)},
                        {"confusion", encode_matrix(pr.confusion)},
                        {"seconds", encode_number(so.result.seconds + pr.seconds)}});
  } else {
    std::printf("already done (%s)\n", marker_path(fdir).c_str());
  }
  const std::vector<ConfigEntry> fm = read_marker(fdir);

  // ---- 2. pseudo-label ----
  const std::string pdir = (fs::path(out) / "pseudolabel").string();
  banner("stage 2/4: pseudo-label");
  if (!stage_done(pdir)) {
    PseudolabelResult pr = run_pseudolabel(po);
    write_marker(pdir, {{"considered", std::to_string(pr.considered)},
                        {"kept", std::to_string(pr.kept)},
                        {"per_class", encode_list(pr.per_class)},
                        {"correct_per_class", encode_list(pr.correct_per_class)},
                        {"precision", encode_number(pr.precision)},
                        {"seconds", encode_number(pr.seconds)}});
  } else {
    std::printf("already done (%s)\n", marker_path(pdir).c_str());
  }
  const std::vector<ConfigEntry> pm = read_marker(pdir);

  // ---- 3. retrain ----
  const std::string rdir = ro.setup.train.out_dir;
  banner("stage 3/4: retrain");
  if (!stage_done(rdir)) {
    StageOutcome so = run_retrain(ro);
    write_marker(rdir, {{"best_val_accuracy", encode_number(so.result.best_val_accuracy)},
                        {"best_epoch", std::to_string(so.result.best_epoch)},
                        {"epochs", std::to_string(so.result.epochs_run)},
                        {"train_images", std::to_string(so.train_images)},
                        {"val_images", std::to_string(so.val_images)},
                        {"seconds", encode_number(so.result.seconds)}});
  } else {
    std::printf("already done (%s)\n", marker_path(rdir).c_str());
  }
  const std::vector<ConfigEntry> rm = read_marker(rdir);

  // ---- 4. predict: the retrained model on the test set ----
  const std::string tdir = (fs::path(out) / "predict").string();
  banner("stage 4/4: predict");
  if (!stage_done(tdir)) {
    PredictOptions p = test;
    p.checkpoint = (fs::path(rdir) / "best.h5").string();
    p.out_csv = (fs::path(tdir) / "predictions.csv").string();
    PredictResult pr = run_predict(p);
    const std::string csv = confusion_csv(pr.confusion, pr.classes);
    data::write_file_atomic((fs::path(tdir) / "confusion.csv").string(), csv.data(), csv.size());
    write_marker(tdir, {{"images", std::to_string(pr.images)},
                        {"test_accuracy", encode_number(pr.accuracy)},
                        {"confusion", encode_matrix(pr.confusion)},
                        {"seconds", encode_number(pr.seconds)}});
  } else {
    std::printf("already done (%s)\n", marker_path(tdir).c_str());
  }
  const std::vector<ConfigEntry> tm = read_marker(tdir);

  // ---- results ----
  LoadedModel final_model = load_model((fs::path(rdir) / "best.h5").string());
  const std::vector<std::string>& classes = final_model.classes;
  const double ft_test = decode_number(fm, "test_accuracy"), final_test = decode_number(tm, "test_accuracy");
  const double precision = decode_number(pm, "precision");
  const int64_t kept = int64_t(decode_number(pm, "kept")), considered = int64_t(decode_number(pm, "considered"));
  StageTimes times{decode_number(fm, "seconds"), decode_number(pm, "seconds"), decode_number(rm, "seconds"),
                   decode_number(tm, "seconds")};
  auto training_summary = [&](const std::vector<ConfigEntry>& m) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "best val %s (epoch %lld of %lld; %lld train / %lld val images)",
                  fmt_percent(decode_number(m, "best_val_accuracy")).c_str(),
                  (long long)decode_number(m, "best_epoch"), (long long)decode_number(m, "epochs"),
                  (long long)decode_number(m, "train_images"), (long long)decode_number(m, "val_images"));
    return std::string(buf);
  };
  char kept_text[160];
  std::snprintf(kept_text, sizeof kept_text, "%lld of %lld kept (%.1f%%), precision %s", (long long)kept,
                (long long)considered, considered ? 100.0 * double(kept) / double(considered) : 0.0,
                percent(precision).c_str());
  const double total = times.finetune + times.pseudolabel + times.retrain + times.predict;
  std::vector<std::vector<std::string>> table = {
      {"stage", "result", "test accuracy", "time"},
      {"fine-tune", training_summary(fm), fmt_percent(ft_test), format_duration(times.finetune)},
      {"pseudo-label", kept_text, "", format_duration(times.pseudolabel)},
      {"retrain", training_summary(rm), fmt_percent(final_test), format_duration(times.retrain)},
      {"predict", std::to_string(int64_t(decode_number(tm, "images"))) + " test images -> predict/predictions.csv",
       fmt_percent(final_test), format_duration(times.predict)},
      {"total", "", "", format_duration(total)}};

  std::string md = "| " + table[0][0] + " | " + table[0][1] + " | " + table[0][2] + " | " + table[0][3] +
                   " |\n|---|---|---|---|\n";
  for (size_t r = 1; r < table.size(); ++r)
    md += "| " + table[r][0] + " | " + table[r][1] + " | " + table[r][2] + " | " + table[r][3] + " |\n";
  data::write_file_atomic((fs::path(out) / "results.md").string(), md.data(), md.size());

  const std::string json = JsonObject()
                               .add("model", model)
                               .add("device", setup.train.device.str())
                               .add("finetune_best_val", decode_number(fm, "best_val_accuracy"))
                               .add("finetune_epochs", int64_t(decode_number(fm, "epochs")))
                               .add("finetune_test", ft_test)
                               .add("pseudo_considered", considered)
                               .add("pseudo_kept", kept)
                               .add("pseudo_precision", precision)
                               .add("pseudo_per_class", decode_list(pm, "per_class"))
                               .add("retrain_best_val", decode_number(rm, "best_val_accuracy"))
                               .add("retrain_epochs", int64_t(decode_number(rm, "epochs")))
                               .add("retrain_test", final_test)
                               .add("t_finetune_s", times.finetune)
                               .add("t_pseudolabel_s", times.pseudolabel)
                               .add("t_retrain_s", times.retrain)
                               .add("t_predict_s", times.predict)
                               .add("t_total_s", total)
                               .add("classes", classes)
                               .str(1) +
                           "\n";
  data::write_file_atomic((fs::path(out) / "results.json").string(), json.data(), json.size());

  ReportData rep;
  rep.title = "effnet pipeline: " + model + " (" + out + ")";
  rep.results = table;
  rep.finetune = read_metrics_csv((fs::path(fdir) / "metrics.csv").string());
  rep.retrain = read_metrics_csv((fs::path(rdir) / "metrics.csv").string());
  rep.classes = classes;
  rep.pseudo_per_class = decode_list(pm, "per_class");
  rep.pseudo_correct_per_class = decode_list(pm, "correct_per_class");
  rep.confusion_finetune = decode_matrix(fm, "confusion");
  rep.confusion_final = decode_matrix(tm, "confusion");
  rep.settings = format_settings(identity);
  const std::string html = render_report(rep);
  data::write_file_atomic((fs::path(out) / "report.html").string(), html.data(), html.size());

  banner("results");
  size_t w0 = 0, w1 = 0, w2 = 0;
  for (const auto& row : table) {
    w0 = std::max(w0, row[0].size());
    w1 = std::max(w1, row[1].size());
    w2 = std::max(w2, row[2].size());
  }
  for (size_t r = 0; r < table.size(); ++r) {
    std::printf("%-*s  %-*s  %-*s  %s\n", int(w0), table[r][0].c_str(), int(w1), table[r][1].c_str(), int(w2),
                table[r][2].c_str(), table[r][3].c_str());
    if (r == 0) std::printf("%s\n", std::string(w0 + w1 + w2 + 12, '-').c_str());
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::printf("\n(this run: %s wall) results.json, results.md, report.html in %s\n", format_duration(wall).c_str(),
              out.c_str());
  return 0;
}

}  // namespace effnet::app
