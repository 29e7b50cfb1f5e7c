// effnet: one command with subcommands (info, bench, ...). Errors are reported as one line on
// stderr with a non-zero exit status; nothing aborts.
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "apps/commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

const Command kCommands[] = {
    {"info", "print a model's layer table (shapes, parameters, multiply-adds)", effnet::app::cmd_info},
    {"bench", "time training or inference steps (img/s, ms/step, peak memory)", effnet::app::cmd_bench},
    {"prepare", "write a dataset (fashion-mnist) as PNG folders with the labeled/unlabeled/test split", effnet::app::cmd_prepare},
    {"finetune", "train on the labeled images (from scratch or from weights); keeps the best checkpoint", effnet::app::cmd_finetune},
    {"pseudolabel", "label unlabeled images with a checkpoint's sharpened, confident predictions", effnet::app::cmd_pseudolabel},
    {"retrain", "train further on labeled + pseudo-labeled images", effnet::app::cmd_retrain},
    {"predict", "classify a folder of images (CSV); accuracy and confusion matrix with labels", effnet::app::cmd_predict},
    {"pipeline", "fine-tune -> pseudo-label -> retrain -> predict, resumable, with a results table and report.html", effnet::app::cmd_pipeline},
};

void usage() {
  std::cout << "usage: effnet <command> [options]   (effnet <command> --help for details)\n\ncommands:\n";
  for (const auto& c : kCommands) std::cout << "  " << c.name << std::string(14 - std::strlen(c.name), ' ') << c.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Whole lines reach a log file or pipe as they are printed (progress bars flush themselves).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands) {
    if (argv[1] != std::string(c.name)) continue;
    try {
      return c.run(argc, argv);
    } catch (const std::exception& e) {
      std::cerr << "effnet " << c.name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "effnet: unknown command '" << argv[1] << "'\n";
  usage();
  return 2;
}
