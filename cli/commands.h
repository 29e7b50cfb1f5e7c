// The subcommands of the effnet binary, registered explicitly in commands.cpp. Each turns its
// arguments (and, for the pipeline, a config file) into the typed options of the stage library
// (apps/) and calls it; none holds work of its own.
#pragma once

#include <optional>

#include "apps/pipeline.h"
#include "apps/train_loop.h"

namespace effnet::cli {

// What a caller of the commands can attach: the test driver that simulates crashes
// (tests/tools/effnet_crashing.cpp) hooks into every training step.
struct Hooks {
  app::StepHook after_step;
};

// Runs `effnet ARGS` (argv[0] the program, argv[1] the subcommand) and returns its exit status:
// usage for no or an unknown subcommand, and one "effnet CMD: error: ..." line on stderr for any
// error; nothing aborts.
int run_command(int argc, char** argv, const Hooks& hooks = {});

int cmd_info(int argc, char** argv, const Hooks& hooks);
int cmd_bench(int argc, char** argv, const Hooks& hooks);
int cmd_prepare(int argc, char** argv, const Hooks& hooks);
int cmd_finetune(int argc, char** argv, const Hooks& hooks);
int cmd_pseudolabel(int argc, char** argv, const Hooks& hooks);
int cmd_retrain(int argc, char** argv, const Hooks& hooks);
int cmd_predict(int argc, char** argv, const Hooks& hooks);
int cmd_pipeline(int argc, char** argv, const Hooks& hooks);
int cmd_sweep(int argc, char** argv, const Hooks& hooks);

// `effnet pipeline ARGS` parsed (config file applied, every value checked) into the pipeline's
// options; nullopt after --help. The sweep parses each of its runs through it before any runs.
std::optional<app::PipelineOptions> pipeline_options(int argc, char** argv, const Hooks& hooks);

}  // namespace effnet::cli
