// The sweep: the pipeline over a grid of options times seeds, as `effnet sweep` runs it
// (cli/cmd_sweep.cpp), and its pure parts here, testable on hand-made results: the grid text,
// the runs it makes, their folder names, mean and standard deviation over seeds, and the three
// renderings of the results (CSV of every run; Markdown and a self-contained HTML page of the
// mean +- sd per grid point).
//
// Model selection happens inside each run (validation accuracy picks the checkpoints); the test
// accuracy of a run is read once, at its end, and the sweep only reports it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "apps/results.h"

namespace effnet::app {

struct GridAxis {
  std::string key;                  // a pipeline option, without the dashes
  std::vector<std::string> values;  // as written on the command line
};
// "lr=0.001,0.005 model=b0,lite0" (axes separated by spaces, values by commas). Throws for an
// empty or malformed axis, a key given twice, an empty value, or the key "seed" (--seeds is the
// seed axis).
std::vector<GridAxis> parse_grid(const std::string& text);
// "0,1,2": distinct non-negative integers.
std::vector<int64_t> parse_seeds(const std::string& text);

// One combination of values, in the axes' order.
using GridPoint = std::vector<std::pair<std::string, std::string>>;
// Every combination, the first axis slowest; no axes: one empty point (the base configuration).
std::vector<GridPoint> grid_points(const std::vector<GridAxis>& axes);
// "lr=0.001 model=b0" ("base" for the empty point), for tables.
std::string point_label(const GridPoint& p);
// "lr-0.001_model-b0" ("base"): a folder name of letters, digits and ._- only.
std::string point_folder(const GridPoint& p);

// What the sweep keeps of one pipeline run.
struct SweepRun {
  GridPoint point;
  int64_t seed = 0;
  double finetune_val = -1, finetune_test = -1;  // best validation accuracy; its checkpoint on test
  int64_t pseudo_kept = 0;
  double pseudo_precision = -1;                  // -1: the unlabeled images had no true labels
  double retrain_val = -1, test = -1;            // the final model's validation and test accuracy
  double seconds = 0;                            // all stages
};
SweepRun sweep_run_of(const GridPoint& point, int64_t seed, const PipelineResults& r);

struct MeanSd {
  double mean = 0, sd = 0;  // sd: the sample standard deviation (n - 1); 0 for one value
  int64_t n = 0;
};
MeanSd mean_sd(const std::vector<double>& values);

// One row per run: the point's values in columns of their own, then seed and the numbers.
std::string render_sweep_csv(const std::vector<GridAxis>& axes, const std::vector<SweepRun>& runs);
// One row per grid point that has runs: mean +- sd (in %) of each number over its seeds.
std::string render_sweep_markdown(const std::vector<SweepRun>& runs);
// The Markdown table's numbers as a page: test and validation accuracy per point with their
// seed-to-seed spread drawn as intervals (inline SVG, no scripts).
std::string render_sweep_html(const std::string& title, const std::vector<SweepRun>& runs);

}  // namespace effnet::app
