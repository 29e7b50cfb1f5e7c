// The apps' pure parts: pseudo-label sharpening and thresholding on hand-computed numbers, the
// pseudo-label list round trip, splits against numpy, config text, metrics files, settings
// comparison, evaluation metrics, the HTML report, and the checks that run before any work
// (unknown model, missing files, empty class, weights of another architecture).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "apps/config_file.h"
#include "apps/evaluate.h"
#include "apps/metrics_log.h"
#include "apps/model_setup.h"
#include "apps/progress.h"
#include "apps/pseudo_label.h"
#include "apps/report.h"
#include "apps/results.h"
#include "apps/splits.h"
#include "apps/stage_record.h"
#include "apps/stages.h"
#include "apps/sweep.h"
#include "apps/train_loop.h"
#include "framework/data/dataset.h"
#include "framework/data/image.h"
#include "framework/framework.h"
#include "tests/testing/errors.h"
#include "weights/hdf5.h"
#include "tests/testing/files.h"

using namespace effnet;
using namespace effnet::testing;
using namespace effnet::app;
namespace fs = std::filesystem;

// ---- sharpening and thresholding ----------------------------------------------------------------

TEST(Sharpen, HalfTemperatureSquaresAndRenormalises) {
  // [0.6, 0.3, 0.1]^2 = [0.36, 0.09, 0.01], sum 0.46.
  std::vector<float> p = sharpen({0.6f, 0.3f, 0.1f, 0.25f, 0.25f, 0.5f}, 3, 0.5);
  ASSERT_EQ(p.size(), 6u);
  EXPECT_NEAR(p[0], 0.36 / 0.46, 1e-6);
  EXPECT_NEAR(p[1], 0.09 / 0.46, 1e-6);
  EXPECT_NEAR(p[2], 0.01 / 0.46, 1e-6);
  // [0.0625, 0.0625, 0.25] / 0.375
  EXPECT_NEAR(p[3], 1.0 / 6.0, 1e-6);
  EXPECT_NEAR(p[4], 1.0 / 6.0, 1e-6);
  EXPECT_NEAR(p[5], 2.0 / 3.0, 1e-6);
}

TEST(Sharpen, TemperatureOneKeepsAndTwoFlattens) {
  std::vector<float> same = sharpen({0.7f, 0.2f, 0.1f}, 3, 1.0);
  EXPECT_NEAR(same[0], 0.7, 1e-6);
  EXPECT_NEAR(same[1], 0.2, 1e-6);
  EXPECT_NEAR(same[2], 0.1, 1e-6);
  // sqrt: 0.83666, 0.44721, 0.31623; sum 1.60010
  std::vector<float> flat = sharpen({0.7f, 0.2f, 0.1f}, 3, 2.0);
  EXPECT_NEAR(flat[0], 0.836660 / 1.600100, 1e-5);
  EXPECT_NEAR(flat[1], 0.447214 / 1.600100, 1e-5);
  EXPECT_NEAR(flat[2], 0.316228 / 1.600100, 1e-5);
}

TEST(Sharpen, TinyProbabilitiesAndLowTemperatureStayFinite) {
  // p^(1/0.01) underflows to 0 for every entry; the row maximum factored out keeps the top at 1.
  std::vector<float> p = sharpen({1e-3f, 2e-3f}, 2, 0.01);
  EXPECT_NEAR(p[1], 1.0, 1e-6);
  EXPECT_NEAR(p[0], 0.0, 1e-6);
}

TEST(Sharpen, RejectsBadInput) {
  EXPECT_ERROR_HAS(sharpen({0.5f, 0.5f}, 2, 0.0), "temperature must be positive");
  EXPECT_ERROR_HAS(sharpen({0.5f, -0.1f}, 2, 0.5), "row 0 holds probability -0.1");
  EXPECT_ERROR_HAS(sharpen({0.0f, 0.0f}, 2, 0.5), "row 0 is all zeros");
  EXPECT_ERROR_HAS(sharpen({0.5f, 0.5f, 0.5f}, 2, 0.5), "3 probabilities do not make rows of 2");
}

TEST(SelectConfident, KeepsStrictlyAboveThresholdWithFirstArgmax) {
  const std::vector<float> probs = {
      0.80f, 0.15f, 0.05f,  // exactly at the threshold (as float): not kept
      0.10f, 0.85f, 0.05f,  // kept, label 1
      0.45f, 0.45f, 0.10f,  // tie, low: not kept
      0.02f, 0.03f, 0.95f,  // kept, label 2
  };
  std::vector<PseudoLabel> kept = select_confident(probs, 3, 0.8f);  // the float 0.8, as stored
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].row, 1);
  EXPECT_EQ(kept[0].label, 1);
  EXPECT_NEAR(kept[0].confidence, 0.85, 1e-6);
  EXPECT_EQ(kept[1].row, 3);
  EXPECT_EQ(kept[1].label, 2);
  // A tie above the threshold goes to the first class.
  std::vector<PseudoLabel> tie = select_confident({0.5f, 0.5f}, 2, 0.4);
  ASSERT_EQ(tie.size(), 1u);
  EXPECT_EQ(tie[0].label, 0);
}

TEST(SelectConfident, SharpeningThenThresholdOnHandComputedRows) {
  // Row 0: [0.7, 0.2, 0.1] -> squares [0.49, 0.04, 0.01] / 0.54 -> top 0.9074 > 0.8: kept.
  // Row 1: [0.6, 0.3, 0.1] -> top 0.7826 <= 0.8: dropped although 0.6 would pass 0.5.
  std::vector<PseudoLabel> kept = select_confident(sharpen({0.7f, 0.2f, 0.1f, 0.6f, 0.3f, 0.1f}, 3, 0.5), 3, 0.8);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].row, 0);
  EXPECT_NEAR(kept[0].confidence, 0.49 / 0.54, 1e-6);
}

TEST(AdaptiveThresholds, FlexMatchMappingOnHandCountedRows) {
  const std::vector<float> probs = {
      0.90f, 0.10f,  // class 0 above 0.8
      0.95f, 0.05f,  // class 0 above
      0.85f, 0.15f,  // class 0 above
      0.10f, 0.90f,  // class 1 above
      0.30f, 0.70f,  // under the threshold (top: class 1)
      0.60f, 0.40f,  // under (top: class 0)
  };
  // sigma = [3, 1], 2 rows unused, so beta = sigma / max(3, 2) = [1, 1/3] and T_c = beta / (2 - beta) * 0.8.
  const std::vector<double> t = adaptive_thresholds(probs, 2, 0.8);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_DOUBLE_EQ(t[0], 0.8);
  EXPECT_NEAR(t[1], (1.0 / 3.0) / (2.0 - 1.0 / 3.0) * 0.8, 1e-15);  // 0.16
  std::vector<PseudoLabel> kept = select_confident(probs, 2, t);
  std::vector<int64_t> rows;
  for (const PseudoLabel& k : kept) rows.push_back(k.row);
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 1, 2, 3, 4})) << "row 4 (class 1 at 0.7) passes the lowered threshold";
  // FlexMatch's warm-up: while most rows are under the threshold, they set the scale.
  const std::vector<double> early = adaptive_thresholds({0.9f, 0.1f, 0.6f, 0.4f, 0.6f, 0.4f, 0.4f, 0.6f}, 2, 0.8);
  EXPECT_NEAR(early[0], (1.0 / 3.0) / (2.0 - 1.0 / 3.0) * 0.8, 1e-15);  // sigma 1 of max(1, 3 unused)
  EXPECT_DOUBLE_EQ(early[1], 0.0);
  EXPECT_ERROR_HAS(adaptive_thresholds({0.5f, 0.5f}, 2, 1.0), "threshold must lie in [0, 1)");
  EXPECT_ERROR_HAS(select_confident(probs, 2, std::vector<double>{0.8}), "1 thresholds for 2 classes");
}

TEST(CapPerClass, KeepsTheMostConfidentInRowOrder) {
  const std::vector<PseudoLabel> kept = {{0, 0, 0.90}, {1, 0, 0.95}, {2, 0, 0.85}, {3, 1, 0.90}, {4, 1, 0.70},
                                         {5, 0, 0.90}};
  std::vector<int64_t> rows;
  for (const PseudoLabel& k : cap_per_class(kept, 2, 2)) rows.push_back(k.row);
  // Class 0: 0.95 (row 1), then 0.90 at rows 0 and 5: the lower row wins the tie. Class 1 has 2.
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(cap_per_class(kept, 2, 0).size(), kept.size()) << "0: no cap";
  EXPECT_EQ(cap_per_class(kept, 2, 100).size(), kept.size());
  EXPECT_ERROR_HAS(cap_per_class(kept, 2, -1), "cap must be >= 0");
  EXPECT_ERROR_HAS(cap_per_class({{0, 5, 0.9}}, 2, 1), "label 5 outside [0, 2)");
}

TEST(PseudoLabelCounts, PerClassAndPrecision) {
  std::vector<PseudoLabel> kept = {{0, 2, 0.9}, {1, 0, 0.95}, {3, 2, 0.99}, {4, 1, 0.81}};
  EXPECT_EQ(count_per_class(kept, 3), (std::vector<int64_t>{1, 1, 2}));
  // true labels of rows 0..4: rows 0, 1, 4 right, row 3 wrong.
  EXPECT_DOUBLE_EQ(pseudo_label_precision(kept, {2, 0, 1, 0, 1}), 0.75);
  EXPECT_DOUBLE_EQ(pseudo_label_precision({}, {1}), 0.0);
  EXPECT_ERROR_HAS(count_per_class({{0, 3, 0.9}}, 3), "label 3 outside [0, 3)");
  EXPECT_ERROR_HAS(pseudo_label_precision({{7, 0, 0.9}}, {0, 1}), "row 7 has no true label");
}

TEST(PseudoLabelList, RoundTrips) {
  fs::path dir = test_temp_dir();
  const std::vector<data::LabelRow> rows = {{"00012.png", 3, 0.912345678}, {"sub dir/ab.png", 0, 0.8000001}, {"x.jpg", 9, 1.0}};
  data::write_pseudo_labels((dir / "list.csv").string(), rows);
  EXPECT_FALSE(fs::exists(dir / "list.csv.tmp"));
  std::vector<data::LabelRow> back = data::read_pseudo_labels((dir / "list.csv").string());
  ASSERT_EQ(back.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(back[i].file, rows[i].file);
    EXPECT_EQ(back[i].label, rows[i].label);
    EXPECT_NEAR(back[i].confidence, rows[i].confidence, 1e-6);
  }
}

// ---- sweep --------------------------------------------------------------------------------------

TEST(Sweep, GridTextPointsAndFolders) {
  const std::vector<GridAxis> axes = parse_grid("  lr=0.001,0.01   --model=b0,lite0 head-only=true ");
  ASSERT_EQ(axes.size(), 3u);
  EXPECT_EQ(axes[1].key, "model");
  EXPECT_EQ(axes[1].values, (std::vector<std::string>{"b0", "lite0"}));
  const std::vector<GridPoint> points = grid_points(axes);
  ASSERT_EQ(points.size(), 4u);  // the first axis slowest
  EXPECT_EQ(point_label(points[0]), "lr=0.001 model=b0 head-only=true");
  EXPECT_EQ(point_label(points[1]), "lr=0.001 model=lite0 head-only=true");
  EXPECT_EQ(point_label(points[2]), "lr=0.01 model=b0 head-only=true");
  EXPECT_EQ(point_folder(points[3]), "lr-0.01_model-lite0_head-only-true");
  EXPECT_EQ(point_folder({{"weights", "/opt/w x.h5"}}), "weights--opt-w-x.h5");
  EXPECT_EQ(grid_points({}).size(), 1u);
  EXPECT_EQ(point_label(grid_points({})[0]), "base");
  EXPECT_EQ(parse_seeds("0,1,2"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_ERROR_HAS(parse_grid("lr"), "'lr' is not KEY=VALUE");
  EXPECT_ERROR_HAS(parse_grid("lr=0.1,"), "has an empty value");
  EXPECT_ERROR_HAS(parse_grid("lr=0.1 lr=0.2"), "'lr' is given twice");
  EXPECT_ERROR_HAS(parse_grid("lr=0.1,0.1"), "lists '0.1' twice");
  EXPECT_ERROR_HAS(parse_grid("seed=1,2"), "use --seeds");
  EXPECT_ERROR_HAS(parse_seeds("0,x"), "'x' is not a non-negative integer");
  EXPECT_ERROR_HAS(parse_seeds("1,1"), "1 is given twice");
  EXPECT_ERROR_HAS(parse_seeds("-1"), "not a non-negative integer");
}

TEST(Sweep, MeanSdAndTablesOverSeeds) {
  const MeanSd m = mean_sd({0.90, 0.92, 0.94});
  EXPECT_NEAR(m.mean, 0.92, 1e-15);
  EXPECT_NEAR(m.sd, 0.02, 1e-15);  // sample sd: sqrt((0.02^2 + 0 + 0.02^2) / 2)
  EXPECT_EQ(mean_sd({0.5}).sd, 0.0);
  EXPECT_EQ(mean_sd({}).n, 0);

  const std::vector<GridAxis> axes = parse_grid("lr=0.01,0.02");
  std::vector<SweepRun> runs;
  for (int64_t seed : {0, 1})
    for (const GridPoint& p : grid_points(axes)) {
      SweepRun r;
      r.point = p;
      r.seed = seed;
      r.finetune_val = 0.8 + 0.01 * double(seed);
      r.finetune_test = 0.7;
      r.pseudo_kept = 100 + 10 * seed;
      r.pseudo_precision = -1;  // no true labels: shown as "-"
      r.retrain_val = 0.85;
      r.test = p[0].second == "0.01" ? 0.90 + 0.02 * double(seed) : 0.5;
      r.seconds = 120;
      runs.push_back(r);
    }
  const std::string csv = render_sweep_csv(axes, runs);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "lr,seed,finetune_val,finetune_test,pseudo_kept,pseudo_precision,retrain_val,test,seconds");
  EXPECT_NE(csv.find("\n0.02,1,0.810000,0.700000,110,-1.000000,0.850000,0.500000,120.0\n"), std::string::npos) << csv;
  const std::string md = render_sweep_markdown(runs);
  // One row per point, its seeds gathered, in the order the points first ran.
  EXPECT_NE(md.find("| lr=0.01 | 0,1 | 80.50 ± 0.71 | 70.00 ± 0.00 | 105 ± 7 | - | 85.00 ± 0.00 | **91.00 ± 1.41** | "
                    "2.0 min |"),
            std::string::npos)
      << md;
  EXPECT_LT(md.find("lr=0.01 |"), md.find("lr=0.02 |"));
  EXPECT_NE(md.find("**50.00 ± 0.00**"), std::string::npos) << md;
  const std::string html = render_sweep_html("a <sweep>", runs);
  EXPECT_NE(html.find("<title>a &lt;sweep&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<td>91.00 ± 1.41</td>"), std::string::npos) << html;
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

// ---- splits -------------------------------------------------------------------------------------

TEST(Splits, ValidationCounts) {
  EXPECT_EQ(validation_count(5000, 0.1), 500);
  EXPECT_EQ(validation_count(45565, 0.25), 11391);  // int(45565 * 0.25)
  EXPECT_EQ(validation_count(100, 7), 7);
  EXPECT_ERROR_HAS(validation_count(3, 0.1), "leaves 0 of 3 images for validation");
  EXPECT_ERROR_HAS(validation_count(10, 10), "leaves 10 of 10");
}

TEST(Splits, TailAndPermutedHeadMatchTheReference) {
  Split s = split_tail({5, 3, 9, 1, 7}, 2);
  EXPECT_EQ(s.train, (std::vector<int64_t>{5, 3, 9}));
  EXPECT_EQ(s.val, (std::vector<int64_t>{1, 7}));
  // numpy: RandomState(1).permutation(10) = [2 9 6 4 0 3 1 7 8 5]
  Split r = split_permuted_head(10, 3, 1);
  EXPECT_EQ(r.val, (std::vector<int64_t>{2, 9, 6}));
  EXPECT_EQ(r.train, (std::vector<int64_t>{4, 0, 3, 1, 7, 8, 5}));
}

// ---- config text, markers, settings -------------------------------------------------------------

TEST(ConfigText, ParsesCommentsAndRejectsMalformedLines) {
  std::vector<ConfigEntry> e = parse_config_text("# comment\n\nmodel = b0   # trailing\nlr=0.005\nname = a b = c\n", "x.conf");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].key, "model");
  EXPECT_EQ(e[0].value, "b0");
  EXPECT_EQ(e[0].line, 3);
  EXPECT_EQ(e[1].value, "0.005");
  EXPECT_EQ(e[2].value, "a b = c");
  EXPECT_ERROR_HAS(parse_config_text("model b0\n", "x.conf"), "x.conf:1: expected 'key = value'");
  EXPECT_ERROR_HAS(parse_config_text("a = 1\na = 2\n", "x.conf"), "x.conf:2: key 'a' appears twice");
  EXPECT_EQ(setting_or(e, "lr", "1"), "0.005");
  EXPECT_EQ(setting_or(e, "nope", "1"), "1");
}

TEST(ConfigText, SettingsDifferencesNameEachKey) {
  std::vector<ConfigEntry> stored = parse_config_text("lr = 0.005\nbatch = 128\nold = 1\n", "s");
  EXPECT_TRUE(settings_differences(stored, {{"lr", "0.005"}, {"batch", "128"}, {"old", "1"}}).empty());
  std::vector<std::string> d = settings_differences(stored, {{"lr", "0.01"}, {"batch", "128"}, {"new", "2"}});
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0], "lr: 0.005 -> 0.01");
  EXPECT_EQ(d[1], "new: (absent) -> 2");
  EXPECT_EQ(d[2], "old: 1 -> (absent)");
}

// Every field of a record comes back as written: numbers exactly, lists, matrices, nested records,
// lists of records, and text that config files would otherwise cut or trim.
TEST(StageRecord, RoundTripsEveryField) {
  fs::path dir = test_temp_dir() / "stage";
  EXPECT_FALSE(has_record(dir.string()));
  FinetuneStageRecord r;
  r.training.best_val_accuracy = 0.78361234567;
  r.training.best_epoch = 7;
  r.training.epochs = 12;
  r.training.stopped_early = true;
  r.training.train_images = 4500;
  r.training.val_images = 500;
  r.training.seconds = 305.25;
  r.training.best_checkpoint = "runs/a #1/best.h5";
  r.training.classes = {"T-shirt_top", " lead", "100%", "trail "};
  r.training.history = {{"finetune", 1, 0.005, 2.0, 0.3, 1.8, 0.35, true, 10.5, 100},
                        {"finetune", 2, 0.004, 1.5, 0.5, 1.4, 0.52, false, 9.25, 110}};
  r.test.images = 10000;
  r.test.accuracy = 1.0 / 3.0;
  r.test.confusion = {{5, 1}, {0, 7}};
  r.test.classes = {"a", "b"};
  write_record(dir.string(), r);
  ASSERT_TRUE(has_record(dir.string()));
  const FinetuneStageRecord back = read_record<FinetuneStageRecord>(dir.string());
  EXPECT_EQ(back.training.best_val_accuracy, r.training.best_val_accuracy);
  EXPECT_EQ(back.training.best_epoch, 7);
  EXPECT_EQ(back.training.epochs, 12);
  EXPECT_TRUE(back.training.stopped_early);
  EXPECT_EQ(back.training.val_images, 500);
  EXPECT_EQ(back.training.seconds, 305.25);
  EXPECT_EQ(back.training.best_checkpoint, r.training.best_checkpoint);
  EXPECT_EQ(back.training.classes, r.training.classes);
  ASSERT_EQ(back.training.history.size(), 2u);
  EXPECT_EQ(back.training.history[1].stage, "finetune");
  EXPECT_EQ(back.training.history[1].lr, 0.004);
  EXPECT_FALSE(back.training.history[1].best);
  EXPECT_EQ(back.training.history[0].seconds, 10.5);
  EXPECT_EQ(back.test.accuracy, r.test.accuracy);
  EXPECT_EQ(back.test.confusion, r.test.confusion);
  EXPECT_EQ(back.test.classes, r.test.classes);

  PseudolabelRecord p;
  p.considered = 55000;
  p.kept = 47587;
  p.per_class = {3, 0, 12};
  p.thresholds = {0.8, 0.1 + 0.2, 1.0 / 3.0};  // not short decimals: they must come back exactly
  p.precision = 0.8951;
  write_record((dir / "p").string(), p);
  const PseudolabelRecord pb = read_record<PseudolabelRecord>((dir / "p").string());
  EXPECT_EQ(pb.per_class, p.per_class);
  EXPECT_EQ(pb.thresholds, p.thresholds);
  EXPECT_TRUE(pb.correct_per_class.empty());
  EXPECT_EQ(pb.precision, p.precision);

  // A record of another stage, or a damaged one, is an error naming the file and the key.
  EXPECT_ERROR_HAS(read_record<TrainingRecord>((dir / "p").string()), "done.txt", "no 'best_val_accuracy' entry");
  write_file(dir / "p" / "done.txt", "considered = 12x\n");
  EXPECT_ERROR_HAS(read_record<PseudolabelRecord>((dir / "p").string()), "'considered' holds a bad value '12x'");
  // A list count is checked against the entries there are before anything is allocated for it.
  write_record((dir / "q").string(), r.test);
  std::string damaged = read_file(dir / "q" / "done.txt");
  const size_t line = damaged.find("classes.count = ");
  ASSERT_NE(line, std::string::npos) << damaged;
  damaged.replace(line, damaged.find('\n', line) - line, "classes.count = 2489465757419637120");
  write_file(dir / "q" / "done.txt", damaged);
  EXPECT_ERROR_HAS(read_record<PredictRecord>((dir / "q").string()),
                   "'classes.count' says 2489465757419637120 but the file holds only ");
}

TEST(ClassSettings, RoundTripThroughCheckpointText) {
  std::vector<std::string> classes = {"T-shirt_top", "Trouser", "Ankle boot"};
  std::vector<ConfigEntry> e = parse_config_text(format_settings(class_settings(classes)), "ckpt");
  EXPECT_EQ(classes_from_settings(e), classes);
}

// ---- metrics, evaluation, report, progress ------------------------------------------------------

TEST(Metrics, CsvRoundTripAndJson) {
  fs::path dir = test_temp_dir();
  std::vector<EpochMetrics> rows(2);
  rows[0] = {"finetune", 1, 0.005, 2.25, 0.4, 1.5, 0.55, true, 12.5, 98.7};
  rows[1] = {"finetune", 2, 0.004, 1.25, 0.6, 1.25, 0.5, false, 11.0, 101.0};
  write_metrics(dir.string(), rows);
  std::vector<EpochMetrics> back = read_metrics_csv((dir / "metrics.csv").string());
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].epoch, 2);
  EXPECT_DOUBLE_EQ(back[0].train_loss, 2.25);
  EXPECT_DOUBLE_EQ(back[0].val_accuracy, 0.55);
  EXPECT_TRUE(back[0].best);
  EXPECT_FALSE(back[1].best);
  const std::string json = read_file(dir / "metrics.json");
  EXPECT_NE(json.find("\"val_accuracy\": 0.55"), std::string::npos) << json;
  write_file(dir / "bad.csv", "stage,epoch\n");
  EXPECT_ERROR_HAS(read_metrics_csv((dir / "bad.csv").string()), "not a metrics file");
}

TEST(Evaluate, AccuracyLossAndConfusion) {
  const std::vector<float> probs = {0.7f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f, 0.3f, 0.4f, 0.3f, 0.5f, 0.25f, 0.25f};
  EXPECT_EQ(argmax_rows(probs, 3), (std::vector<int64_t>{0, 2, 1, 0}));
  const std::vector<int64_t> labels = {0, 2, 2, 1};
  EXPECT_DOUBLE_EQ(accuracy_of(probs, 3, labels), 0.5);
  EXPECT_NEAR(mean_nll(probs, 3, labels), -(std::log(0.7) + std::log(0.8) + std::log(0.3) + std::log(0.25)) / 4, 1e-6);
  auto m = confusion_matrix(labels, argmax_rows(probs, 3), 3);
  EXPECT_EQ(m, (std::vector<std::vector<int64_t>>{{1, 0, 0}, {1, 0, 0}, {0, 1, 1}}));
  std::string text = format_confusion(m, {"cat", "dog", "bird"});
  EXPECT_NE(text.find(" 2 bird"), std::string::npos) << text;
  EXPECT_ERROR_HAS(confusion_matrix({3}, {0}, 3), "outside [0, 3)");
  const fs::path csv = test_temp_dir() / "confusion.csv";
  write_confusion_csv(csv.string(), m, {"cat", "dog", "bird, big"});
  EXPECT_EQ(read_file(csv),
            "true\\predicted,cat,dog,\"bird, big\"\ncat,1,0,0\ndog,1,0,0\n\"bird, big\",0,1,1\n");
}

PipelineResults sample_results() {
  PipelineResults d;
  d.title = "run <1> & co";
  d.model = "b0";
  d.device = "cpu";
  d.finetune.training.history = {{"finetune", 1, 0.005, 2.0, 0.3, 1.8, 0.35, true, 10, 100},
                                 {"finetune", 2, 0.005, 1.5, 0.5, 1.4, 0.52, true, 10, 100}};
  d.finetune.training.best_val_accuracy = 0.52;
  d.finetune.training.best_epoch = d.finetune.training.epochs = 2;
  d.finetune.training.seconds = 20;
  d.finetune.test.accuracy = 0.7836;
  d.finetune.test.confusion = {{5, 1}, {2, 7}};
  d.retrain = d.finetune.training;
  d.classes = {"a<b", "c"};
  d.pseudolabel.considered = 40;
  d.pseudolabel.kept = 30;
  d.pseudolabel.per_class = {10, 20};
  d.pseudolabel.correct_per_class = {9, 15};
  d.pseudolabel.thresholds = {0.8, 0.6125};
  d.pseudolabel.precision = 0.8;
  d.predict.images = 15;
  d.predict.accuracy = 0.8;
  d.predict.confusion = {{6, 0}, {1, 8}};
  d.settings = "model = b0\n";
  return d;
}

// The table, results.json and the console text are renderings of the same numbers.
TEST(Results, TableJsonAndTextAgree) {
  const PipelineResults d = sample_results();
  const auto table = results_table(d);
  ASSERT_EQ(table.size(), 6u);
  EXPECT_EQ(table[1][2], "78.36%");
  EXPECT_EQ(table[2][1], "30 of 40 kept (75.0%), precision 80.00%");
  EXPECT_EQ(table[4][2], "80.00%");
  const std::string md = render_markdown(d);
  EXPECT_EQ(md.rfind("| stage | result | test accuracy | time |\n|---|---|---|---|\n| fine-tune |", 0), 0u) << md;
  const std::string json = render_json(d);
  EXPECT_NE(json.find("\"finetune_test\": 0.7836"), std::string::npos) << json;
  EXPECT_NE(json.find("\"retrain_test\": 0.8"), std::string::npos) << json;
  EXPECT_NE(json.find("\"pseudo_kept\": 30"), std::string::npos) << json;
  EXPECT_NE(json.find("\"t_total_s\": 40"), std::string::npos) << json;
  const std::string text = render_text(d);
  EXPECT_NE(text.find("pseudo-label  30 of 40 kept"), std::string::npos) << text;
}

TEST(Report, SelfContainedHtmlWithInlineSvg) {
  const std::string html = render_report(sample_results());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  size_t svgs = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 7u);  // 2 x 2 learning curves, pseudo-label bars, 2 confusion matrices
  EXPECT_EQ(html.find("http"), std::string::npos) << "no external references";
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("run &lt;1&gt; &amp; co"), std::string::npos);
  EXPECT_NE(html.find("a&lt;b"), std::string::npos);
  EXPECT_EQ(html.find("a<b"), std::string::npos);
  EXPECT_NE(html.find("<td>78.36%</td>"), std::string::npos);
  // The pseudo-labels per class as a table too: threshold, kept, correct, precision.
  EXPECT_NE(html.find("<tr><th>class</th><th>threshold</th><th>kept</th><th>correct</th><th>precision</th></tr>"),
            std::string::npos);
  EXPECT_NE(html.find("<tr><td>c</td><td>0.6125</td><td>20</td><td>15</td><td>75.00 %</td></tr>"), std::string::npos)
      << html;
}

TEST(Progress, DurationsAndPlainLogLines) {
  EXPECT_EQ(format_duration(42.2), "42s");
  EXPECT_EQ(format_duration(187), "3:07");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  ::testing::internal::CaptureStdout();
  Progress p("finetune epoch 1/3", 10, false, 4);
  for (int b = 1; b <= 10; ++b) p.update(b, b * 8, 1.5, 0.25);
  p.finish("done");
  const std::string out = ::testing::internal::GetCapturedStdout();
  // Lines at batches 4 and 8 (not 10: the summary covers the end), then the summary.
  EXPECT_NE(out.find("finetune epoch 1/3  batch 4/10"), std::string::npos) << out;
  EXPECT_NE(out.find("batch 8/10"), std::string::npos) << out;
  EXPECT_EQ(out.find("batch 10/10"), std::string::npos) << out;
  EXPECT_NE(out.find("loss 1.5000  acc 25.00%"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("done\n"), std::string::npos);
}

// ---- checks before any work ---------------------------------------------------------------------

TEST(Checks, UnknownModelMissingFilesAndBadOptions) {
  fs::path dir = test_temp_dir();
  EXPECT_ERROR_HAS(check_model_name("b9"), "b9");
  LabeledSource src;
  src.dir = (dir / "nowhere").string();
  EXPECT_ERROR_HAS(load_labeled(src), "labeled image folder", "nowhere", "does not exist");
  FinetuneOptions o;
  o.setup.train.out_dir = (dir / "out").string();
  o.model = "b9";
  EXPECT_ERROR_HAS(check_finetune_options(o), "b9");
  o.model = "b0";
  o.setup.train.optimizer.name = "lbfgs";
  EXPECT_ERROR_HAS(check_finetune_options(o), "unknown optimizer 'lbfgs'");
  o.setup.train.optimizer.name = "sgd";
  o.setup.train.schedule.name = "linear";
  EXPECT_ERROR_HAS(check_finetune_options(o), "unknown schedule 'linear'");
  o.setup.train.schedule.name = "constant";
  o.weights = (dir / "missing.h5").string();
  EXPECT_ERROR_HAS(check_finetune_options(o), "weights file", "missing.h5 does not exist");
  // The stage runs the same checks before it touches its images or writes anything.
  EXPECT_ERROR_HAS(run_finetune(o, data::Dataset()), "weights file", "missing.h5 does not exist");
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing written before the checks pass";

  PseudolabelOptions p;
  p.checkpoint = (dir / "missing.h5").string();
  p.out_csv = (dir / "p.csv").string();
  EXPECT_ERROR_HAS(run_pseudolabel(p, data::Dataset()), "checkpoint", "missing.h5 does not exist");
  p.checkpoint.clear();  // the pipeline checks the settings before fine-tuning has made the checkpoint
  p.threshold = 1.5;
  EXPECT_ERROR_HAS(check_pseudolabel_options(p), "--threshold must lie in [0, 1)");
  PredictOptions q;
  q.checkpoint = (dir / "missing.h5").string();
  EXPECT_ERROR_HAS(run_predict(q, data::Dataset()), "checkpoint", "missing.h5 does not exist");
  RetrainOptions r;
  r.setup.train.out_dir = (dir / "out").string();
  r.checkpoint = (dir / "missing.h5").string();
  r.pseudo_csv = (dir / "p.csv").string();
  EXPECT_ERROR_HAS(run_retrain(r, data::Dataset(), data::Dataset()), "pseudo-label list", "p.csv does not exist");
  r.labeled_share = 1;
  EXPECT_ERROR_HAS(check_retrain_options(r), "--labeled-share must lie in [0, 1)");
  EXPECT_ERROR_HAS(run_retrain(r, data::Dataset(), data::Dataset()), "--labeled-share must lie in [0, 1)");
  EXPECT_ERROR_HAS(choose_device("tpu"), "tpu");
}

TEST(Checks, EmptyClassFolderIsAnError) {
  fs::path dir = test_temp_dir();
  data::Image img;
  img.width = img.height = 4;
  img.rgb.assign(48, 100);
  fs::create_directories(dir / "lab" / "a");
  fs::create_directories(dir / "lab" / "b");
  data::write_png((dir / "lab" / "a" / "0.png").string(), img);
  LabeledSource src;
  src.dir = (dir / "lab").string();
  EXPECT_ERROR_HAS(load_labeled(src), "class folder", "is empty");
}

TEST(Checks, WeightsForAnotherArchitecture) {
  fs::path dir = test_temp_dir();
  auto net = make_efficientnet("lite0", 3);
  WeightsMeta meta;
  meta.config = net->config();
  save_weights(*net, (dir / "lite0.h5").string(), meta);
  EXPECT_EQ(check_weights_file((dir / "lite0.h5").string(), "").config.name, "lite0");
  EXPECT_ERROR_HAS(check_weights_file((dir / "lite0.h5").string(), "b0"), "lite0.h5 holds weights for lite0",
                   "not for --model b0");
  write_file(dir / "junk.h5", "not hdf5");
  EXPECT_ERROR_HAS(check_weights_file((dir / "junk.h5").string(), ""), "junk.h5");
  // A weights file has no class names: 3 outputs get "0".."2", a list file overrides them.
  LoadedModel m = load_model((dir / "lite0.h5").string());
  EXPECT_EQ(m.classes, (std::vector<std::string>{"0", "1", "2"}));
  write_file(dir / "names.txt", "x\ny\nz\n");
  EXPECT_EQ(load_model((dir / "lite0.h5").string(), (dir / "names.txt").string()).classes,
            (std::vector<std::string>{"x", "y", "z"}));
}

// ---- training loop ------------------------------------------------------------------------------

TEST(TrainLoop, SchedulesFromOptions) {
  ScheduleSpec s;
  EXPECT_DOUBLE_EQ(make_schedule(s, 0.1, 4, 10)->lr_at(39), 0.1);
  s.name = "step";
  s.step_epochs = 2;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(make_schedule(s, 0.1, 4, 10)->lr_at(19), 0.1);
  EXPECT_DOUBLE_EQ(make_schedule(s, 0.1, 4, 10)->lr_at(20), 0.05);
  s.name = "cosine";
  s.warmup_epochs = 1;
  EXPECT_DOUBLE_EQ(make_schedule(s, 0.1, 4, 10)->lr_at(0), 0.01);    // warm-up: base / 10 steps
  EXPECT_NEAR(make_schedule(s, 0.1, 4, 10)->lr_at(25), 0.05, 1e-12);  // half-way through the cosine
  OptimizerSpec bad;
  bad.name = "lbfgs";
  EXPECT_ERROR_HAS(make_optimizer(bad, {}), "unknown optimizer 'lbfgs'");
}

// A two-class set of n flat 16x16 images (dark for even i, bright for odd), and training data
// over it: the first n_train images train, the rest validate, at 16x16 without augmentation.
data::Dataset dark_and_bright(int n) {
  data::Dataset ds;
  ds.classes = {"dark", "bright"};
  for (int i = 0; i < n; ++i) {
    auto img = std::make_shared<data::Image>();
    img->width = img->height = 16;
    img->rgb.assign(16 * 16 * 3, uint8_t(i % 2 ? 200 + i : 20 + i));
    ds.files.push_back(std::to_string(i) + ".png");
    ds.images.push_back(img);
    ds.labels.push_back(i % 2);
  }
  return ds;
}

TrainData train_data_over(const data::Dataset& ds, int64_t n_train) {
  TrainData td;
  td.dataset = &ds;
  for (int64_t i = 0; i < ds.size(); ++i) (i < n_train ? td.train : td.val).push_back(i);
  td.train_transform.height = td.train_transform.width = 16;
  td.eval_transform = td.train_transform;
  return td;
}

// The meta of `net` trained at 16x16, and quiet training options into out_dir.
WeightsMeta meta_at_16(const EfficientNet& net) {
  WeightsMeta meta;
  meta.config = net.config();
  meta.config.resolution = 16;
  return meta;
}

TrainOptions quiet_options(const fs::path& out_dir, int64_t epochs, int64_t batch) {
  TrainOptions o;
  o.out_dir = out_dir.string();
  o.epochs = epochs;
  o.batch = batch;
  o.quiet = true;
  return o;
}

// Test-time augmentation: the averaged probabilities are exactly the mean of the plain pass and
// of the pass over mirror images, which differ for images that are not symmetric.
TEST(Evaluate, MirrorAverageIsTheMeanOfBothViews) {
  data::Dataset ds = dark_and_bright(24);
  for (int i = 0; i < 24; ++i) {  // a bright left edge that moves to the right when mirrored
    auto img = std::make_shared<data::Image>(*ds.images[size_t(i)]);
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 2 + i % 8; ++x)
        for (int c = 0; c < 3; ++c) img->rgb[size_t((y * 16 + x) * 3 + c)] = uint8_t(255 - 30 * c);
    ds.images[size_t(i)] = img;
  }
  manual_seed(5);
  auto net = make_efficientnet("b0", 2);
  // Trained a little first: in eval mode an untrained network's batch norms (running variance 1)
  // let the features fade to nothing, and every image looks alike.
  train_model(*net, meta_at_16(*net), train_data_over(ds, 20), quiet_options(test_temp_dir(), 2, 8));
  const TrainData td = train_data_over(ds, 0);
  EvalOptions opts;
  opts.batch = 4;
  const std::vector<float> plain = predict_probabilities(*net, ds, td.val, td.eval_transform, opts);
  data::Transform mirrored = td.eval_transform;
  mirrored.mirror = true;
  const std::vector<float> flipped = predict_probabilities(*net, ds, td.val, mirrored, opts);
  opts.mirror_average = true;
  const std::vector<float> both = predict_probabilities(*net, ds, td.val, td.eval_transform, opts);
  ASSERT_EQ(both.size(), plain.size());
  double largest_difference = 0;
  for (size_t i = 0; i < both.size(); ++i) {
    EXPECT_EQ(both[i], 0.5f * (plain[i] + flipped[i])) << i;
    largest_difference = std::max(largest_difference, double(std::fabs(plain[i] - flipped[i])));
  }
  EXPECT_GT(largest_difference, 1e-6) << "the mirror images must give other probabilities";
}

TEST(TrainLoop, HeadOnlyTrainsOnlyTheClassifierAndKeepsBest) {
  fs::path dir = test_temp_dir();
  const data::Dataset ds = dark_and_bright(24);
  manual_seed(3);
  auto net = make_efficientnet("b0", 2);
  const std::vector<float> stem_before = net->stem->named_parameters()[0].second.to_vector<float>();
  const std::vector<float> running_before = net->stem->named_buffers()[0].second.to_vector<float>();
  const std::vector<float> head_before = net->classifier->weight.to_vector<float>();
  const WeightsMeta meta = meta_at_16(*net);
  TrainData td = train_data_over(ds, 20);
  TrainOptions o = quiet_options(dir / "out", 2, 8);
  o.head_only = true;
  o.settings = {{"test", "head-only"}};
  std::vector<int64_t> steps;  // the after-step hook sees every step, in order, with its position
  o.after_step = [&](const StepEvent& e) {
    EXPECT_EQ(e.stage, "finetune");
    EXPECT_EQ(e.batch, (e.step - 1) % 2 + 1);
    EXPECT_EQ(e.epoch, (e.step - 1) / 2 + 1);
    steps.push_back(e.step);
  };
  TrainResult r = train_model(*net, meta, td, o);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4}));  // 2 epochs of 20 images in batches of 8
  o.after_step = nullptr;
  EXPECT_EQ(r.epochs_run, 2);
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.history[0].epoch, 1);
  EXPECT_TRUE(r.history[0].best);
  EXPECT_TRUE(fs::exists(dir / "out" / "best.h5"));
  EXPECT_TRUE(fs::exists(dir / "out" / "last.h5"));
  EXPECT_TRUE(fs::exists(dir / "out" / "metrics.json"));
  EXPECT_EQ(net->stem->named_parameters()[0].second.to_vector<float>(), stem_before);
  EXPECT_EQ(net->stem->named_buffers()[0].second.to_vector<float>(), running_before) << "frozen BN keeps its statistics";
  EXPECT_NE(net->classifier->weight.to_vector<float>(), head_before);
  // Running again finds the finished run and changes nothing; other settings are refused.
  TrainResult again = train_model(*net, meta, td, o);
  EXPECT_EQ(again.resumed_from, 2);
  EXPECT_EQ(again.history.size(), 2u);
  o.optimizer.lr = 0.5;
  o.settings = {{"test", "other"}};
  EXPECT_ERROR_HAS(train_model(*net, meta, td, o), "holds a finetune run with other settings", "test: head-only -> other");
}

namespace {
// The datasets of `group` in a weights file or checkpoint, by name, as stored.
std::map<std::string, std::vector<double>> tensors_in(const fs::path& file, const std::string& group) {
  h5::File f = h5::File::open(file.string());
  std::map<std::string, std::vector<double>> out;
  const std::string prefix = group == "/" ? "/" : group + "/";
  for (const std::string& name : f.datasets(group)) {
    const Tensor t = f.read_as_stored(prefix + name);
    if (t.dtype() != DType::Int64) out[name] = t.to(DType::Float64).to_vector<double>();
  }
  return out;
}
struct Crash {};
}  // namespace

// With a weight average (and label smoothing), validation and best.h5 see the average while
// last.h5 keeps the trained weights and the average; a run interrupted mid-epoch resumes to the
// same weights and average, bit for bit, as one that ran straight through.
TEST(TrainLoop, WeightAverageIsValidatedSavedAndResumedExactly) {
  fs::path dir = test_temp_dir();
  const data::Dataset ds = dark_and_bright(24);
  const TrainData td = train_data_over(ds, 20);  // 2 steps per epoch
  auto run = [&](const fs::path& out, int64_t epochs, int64_t crash_at_step) {
    manual_seed(5);
    auto net = make_efficientnet("b0", 2);
    TrainOptions o = quiet_options(out, epochs, 8);
    o.ema_decay = 0.9;
    o.label_smoothing = 0.1;
    o.patience = 0;
    o.settings = {{"test", "ema"}};
    if (crash_at_step > 0)
      o.after_step = [=](const StepEvent& e) {
        if (e.step == crash_at_step) throw Crash{};
      };
    train_model(*net, meta_at_16(*net), td, o);
  };
  // One epoch: it is the best, so best.h5 holds exactly last.h5's average, which differs from the
  // trained weights.
  run(dir / "one", 1, 0);
  const auto best = tensors_in(dir / "one" / "best.h5", "/");
  const auto trained = tensors_in(dir / "one" / "last.h5", "/");
  const auto average = tensors_in(dir / "one" / "last.h5", "/ema");
  ASSERT_EQ(average.size(), best.size());
  EXPECT_EQ(best, average);
  EXPECT_NE(trained.at("classifier.weight"), average.at("classifier.weight"));
  EXPECT_EQ(h5::File::open((dir / "one" / "last.h5").string()).attr_int("updates", "/ema"), 2);

  run(dir / "straight", 3, 0);
  EXPECT_THROW(run(dir / "resumed", 3, 4), Crash);  // in epoch 2: last.h5 is epoch 1's
  run(dir / "resumed", 3, 0);
  EXPECT_EQ(tensors_in(dir / "resumed" / "last.h5", "/"), tensors_in(dir / "straight" / "last.h5", "/"));
  EXPECT_EQ(tensors_in(dir / "resumed" / "last.h5", "/ema"), tensors_in(dir / "straight" / "last.h5", "/ema"));
  EXPECT_EQ(tensors_in(dir / "resumed" / "best.h5", "/"), tensors_in(dir / "straight" / "best.h5", "/"));

  TrainOptions bad = quiet_options(dir / "bad", 1, 8);
  bad.ema_decay = 1.0;
  EXPECT_ERROR_HAS(check_train_options(bad), "decay must be in [0, 1)");
  bad.ema_decay = 0;
  bad.label_smoothing = 1.0;
  EXPECT_ERROR_HAS(check_train_options(bad), "label smoothing must be in [0, 1)");
}

// NaN in a running variance: training mode normalises with the batch's statistics, so the training
// loss stays finite, but evaluation uses the running ones and the validation loss is NaN. That
// epoch must not be "best" (its accuracy is arbitrary): training stops before it saves anything.
TEST(TrainLoop, NonFiniteValidationLossStopsBeforeAnythingIsSaved) {
  fs::path dir = test_temp_dir();
  const data::Dataset ds = dark_and_bright(12);
  manual_seed(4);
  auto net = make_efficientnet("b0", 2);
  Tensor running_var;
  for (auto& [name, t] : net->named_buffers())
    if (name.find("running_var") != std::string::npos) running_var = t;  // the last BN's
  ASSERT_TRUE(running_var.defined());
  running_var.data<float>()[0] = std::nanf("");
  TrainData td = train_data_over(ds, 8);
  const TrainOptions o = quiet_options(dir / "out", 2, 4);
  EXPECT_ERROR_HAS(train_model(*net, meta_at_16(*net), td, o), "finetune: the validation loss became nan at epoch 1",
                   "training stopped. Last good checkpoint: none: no epoch had completed",
                   "the first non-finite tensor is the model tensor 'head.bn.running_var' (1 of 1280 values)");
  EXPECT_FALSE(fs::exists(dir / "out" / "best.h5"));
  EXPECT_FALSE(fs::exists(dir / "out" / "last.h5"));
}
