// The command table of the effnet binary and its dispatch (see commands.h).
#include "cli/commands.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "framework/dist/process_group.h"

namespace effnet::cli {
namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**, const Hooks&);
};

const Command kCommands[] = {
    {"info", "print a model's layer table (shapes, parameters, multiply-adds)", cmd_info},
    {"bench", "time training or inference steps (img/s, ms/step, peak memory)", cmd_bench},
    {"prepare", "write a dataset (fashion-mnist) as PNG folders with the labeled/unlabeled/test split", cmd_prepare},
    {"finetune", "train on the labeled images (from scratch or from weights); keeps the best checkpoint", cmd_finetune},
    {"pseudolabel", "label unlabeled images with a checkpoint's sharpened, confident predictions", cmd_pseudolabel},
    {"retrain", "train further on labeled + pseudo-labeled images", cmd_retrain},
    {"predict", "classify a folder of images (CSV); accuracy and confusion matrix with labels", cmd_predict},
    {"pipeline", "fine-tune -> pseudo-label -> retrain -> predict, resumable, with a results table and report.html", cmd_pipeline},
    {"sweep", "pipelines over a grid of options x seeds, resumable: one table of mean +- sd (CSV, Markdown, HTML)", cmd_sweep},
};

void usage() {
  std::cout << "usage: effnet <command> [options]   (effnet <command> --help for details)\n\ncommands:\n";
  for (const auto& c : kCommands) std::cout << "  " << c.name << std::string(14 - std::strlen(c.name), ' ') << c.summary << "\n";
}

}  // namespace

int run_command(int argc, char** argv, const Hooks& hooks) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands) {
    if (argv[1] != std::string(c.name)) continue;
    // Under mpirun / srun every rank runs the command (docs/distributed.md). Rank 0 alone prints
    // to stdout; errors go to stderr from whichever rank has them, and end the whole job at once
    // (MPI_Abort), so no rank is left waiting in a collective for one that has stopped.
    std::string where;
    try {
      const int world = dist::init();
      if (world > 1) where = " [rank " + std::to_string(dist::rank()) + " of " + std::to_string(world) + "]";
      if (!dist::is_main()) EFFNET_CHECK(std::freopen("/dev/null", "w", stdout), "cannot silence stdout");
      const int status = c.run(argc, argv, hooks);
      dist::finalize();
      return status;
    } catch (const std::exception& e) {
      std::cerr << "effnet " << c.name << where << ": error: " << e.what() << "\n";
      if (dist::distributed() && dist::world_size() > 1) {
        std::cerr.flush();
        dist::abort(1);
      }
      dist::finalize();
      return 1;
    }
  }
  std::cerr << "effnet: unknown command '" << argv[1] << "'\n";
  usage();
  return 2;
}

}  // namespace effnet::cli
