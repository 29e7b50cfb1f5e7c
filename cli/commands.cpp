// The command table of the effnet binary and its dispatch (see commands.h).
#include "cli/commands.h"

#include <cstring>
#include <exception>
#include <iostream>
#include <string>

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
    try {
      return c.run(argc, argv, hooks);
    } catch (const std::exception& e) {
      std::cerr << "effnet " << c.name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "effnet: unknown command '" << argv[1] << "'\n";
  usage();
  return 2;
}

}  // namespace effnet::cli
