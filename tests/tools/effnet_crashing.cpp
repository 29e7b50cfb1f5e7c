// Test driver: the effnet command with a simulated crash, for the crash-and-resume tests.
//   effnet_crashing N <effnet arguments>
// runs the command like `effnet <arguments>` and ends the process right after its N-th optimizer
// step (counted over all the stages it runs), with exit status 75 and without writing anything
// more, as a crash would: the run's files are then whatever a killed process leaves behind.
// Under mpirun, EFFNET_CRASH_RANK=R makes only rank R crash (the others must then be ended by the
// launcher, not hang).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s STEPS <effnet arguments>\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const long long crash_after = std::atoll(argv[1]);
  long long steps = 0;
  effnet::cli::Hooks hooks;
  hooks.after_step = [&](const effnet::app::StepEvent& e) {
    if (++steps != crash_after) return;
    const char* only = std::getenv("EFFNET_CRASH_RANK");
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (only && std::string(only) != (rank ? rank : "0")) return;
    // stderr: under mpirun only rank 0's stdout is kept.
    std::fprintf(stderr, "%s: simulated crash after step %lld (epoch %lld, batch %lld)\n", e.stage.c_str(), steps,
                (long long)e.epoch, (long long)e.batch);
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(75);
  };
  argv[1] = argv[0];  // the command sees "effnet <arguments>"
  return effnet::cli::run_command(argc - 1, argv + 1, hooks);
}
