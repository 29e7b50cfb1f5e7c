// `effnet sweep`: the pipeline over a grid of options times seeds (apps/sweep.h), each run in a
// folder of its own so that the sweep resumes as its pipelines do, and one results table.
#include <cstdio>
#include <filesystem>

#include "apps/sweep.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "framework/core/atomic_file.h"
#include "framework/dist/process_group.h"

namespace effnet::cli {
namespace fs = std::filesystem;

namespace {

struct PlannedRun {
  app::GridPoint point;
  int64_t seed = 0;
  std::vector<std::string> argv;  // `effnet pipeline ...`
};

// argv as the pipeline command takes it (pointers into `words`, which must outlive them).
std::vector<char*> as_argv(std::vector<std::string>& words) {
  std::vector<char*> out;
  for (std::string& w : words) out.push_back(w.data());
  return out;
}

}  // namespace

int cmd_sweep(int argc, char** argv, const Hooks& hooks) {
  Args args("sweep",
            "Run the pipeline for every combination of --grid values and every seed of --seeds, each in\n"
            "OUT/<values>/seed-<s>/ (resumable: run the same command again after an interruption), and write\n"
            "OUT/sweep.csv (every run), OUT/sweep.md and OUT/sweep.html (mean +- sd over seeds per combination).\n"
            "Example: effnet sweep --config configs/fmnist-cpu.conf --data data/fmnist --out runs/sweep \\\n"
            "           --grid \"lr=0.001,0.005,0.01 model=b0,lite0\" --seeds 0,1,2");
  args.option("config", "", "the base configuration: a pipeline config file (see `effnet pipeline --help`)")
      .option("data", "", "dataset folder in `effnet prepare`'s layout (required)")
      .option("out", "", "output folder (required)")
      .option("grid", "", "\"KEY=V1,V2 KEY=V1,...\": pipeline options (without dashes) and their values; flags take\n"
                          "      true/false. Empty: the base configuration alone")
      .option("seeds", "0,1,2", "training seeds (initialisation, batch order, augmentation, dropout)")
      .option("device", "auto", "auto | cpu | cuda")
      .option("workers", "0", "batch-preparing threads (0: 4 with a GPU, 1 on the CPU)", kWorkersRange)
      .option("log-every", "20", "batches between log lines when stdout is not a terminal (0: none)", Range::at_least(0));
  if (!args.parse(argc, argv, 2)) return 0;
  EFFNET_CHECK(!args.str("out").empty(), "sweep: --out DIR is required");
  EFFNET_CHECK(!args.str("data").empty(), "sweep: --data DIR is required (see `effnet prepare`)");
  const fs::path out(args.str("out"));
  const std::vector<app::GridAxis> axes = app::parse_grid(args.str("grid"));
  const std::vector<int64_t> seeds = app::parse_seeds(args.str("seeds"));

  // Every run's arguments, parsed and checked before the first run starts.
  std::vector<PlannedRun> plan;
  for (const app::GridPoint& point : app::grid_points(axes))
    for (int64_t seed : seeds) {
      PlannedRun r{point, seed, {"effnet", "pipeline"}};
      auto add = [&](const std::string& key, const std::string& value) {
        r.argv.push_back("--" + key + "=" + value);
      };
      if (!args.str("config").empty()) add("config", args.str("config"));
      add("data", args.str("data"));
      add("out", (out / app::point_folder(point) / ("seed-" + std::to_string(seed))).string());
      add("seed", std::to_string(seed));
      for (const char* k : {"device", "workers", "log-every"}) add(k, args.str(k));
      for (const auto& [k, v] : point) add(k, v);
      std::vector<char*> a = as_argv(r.argv);
      try {
        pipeline_options(int(a.size()), a.data(), hooks);
      } catch (const Error& e) {
        EFFNET_THROW("sweep: ", app::point_label(point), ", seed ", seed, ": ", e.what());
      }
      plan.push_back(std::move(r));
    }
  std::printf("sweep: %zu runs (%zu combinations x %zu seeds) -> %s\n", plan.size(), plan.size() / seeds.size(),
              seeds.size(), out.string().c_str());

  std::vector<app::SweepRun> runs;
  const std::string title = "effnet sweep (" + out.string() + ")";
  for (size_t i = 0; i < plan.size(); ++i) {
    PlannedRun& r = plan[i];
    std::printf("\n==== sweep run %zu/%zu: %s, seed %lld ====\n", i + 1, plan.size(), app::point_label(r.point).c_str(),
                (long long)r.seed);
    std::fflush(stdout);
    std::vector<char*> a = as_argv(r.argv);
    const app::PipelineResults res = app::run_pipeline(*pipeline_options(int(a.size()), a.data(), hooks));
    runs.push_back(app::sweep_run_of(r.point, r.seed, res));
    // After every run, so that an interrupted sweep still shows what it has.
    if (dist::is_main()) {
      fs::create_directories(out);
      write_file_atomic((out / "sweep.csv").string(), app::render_sweep_csv(axes, runs));
      write_file_atomic((out / "sweep.md").string(), app::render_sweep_markdown(runs));
      write_file_atomic((out / "sweep.html").string(), app::render_sweep_html(title, runs));
    }
  }
  std::printf("\n== sweep results (accuracy %%, mean ± sd over seeds) ==\n%s\nsweep.csv, sweep.md, sweep.html in %s\n",
              app::render_sweep_markdown(runs).c_str(), out.string().c_str());
  return 0;
}

}  // namespace effnet::cli
