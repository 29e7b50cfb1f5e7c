// effnet: one command with subcommands (info, bench, prepare, finetune, ...; cli/commands.cpp).
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Whole lines reach a log file or pipe as they are printed (progress bars flush themselves).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return effnet::cli::run_command(argc, argv);
}
