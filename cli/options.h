// The option groups the subcommands share, and how they become the stage library's options:
// declaring each group's flags (with defaults and help) and reading them back into typed options.
#pragma once

#include "apps/stages.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace effnet::cli {

// --data (described by data_help), --labeled, --split-order (order_help), --classes, --skip-bad-images.
void add_labeled_options(Args& args, const char* data_help, const char* order_help);
// The parts of --data's layout first, then the explicit flags; a labeled folder is required
// (errors start with `command`).
app::LabeledSource labeled_source_from(const Args& args, const char* command);

// --epochs and --patience with these defaults, and --out.
void add_stopping_options(Args& args, const char* epochs, const char* patience);
// Into setup.train (--out is required).
void read_stopping_options(const Args& args, const char* command, app::TrainingSetup& setup);

// --image-size, --flip, --crop-padding, --optimizer, --lr, --momentum, --weight-decay, --schedule,
// --warmup-epochs, --step-epochs, --gamma, --min-lr, --batch, --eval-batch, --seed, --device,
// --workers, --log-every.
void add_training_options(Args& args);
// Reads them (and chooses the device); epochs, patience, stage and out_dir are left to the caller.
app::TrainingSetup training_setup_from(const Args& args, const Hooks& hooks);

// --batch, --image-size, --device, --workers and --skip-bad-images of the inference subcommands.
void add_inference_options(Args& args);
app::InferenceSetup inference_setup_from(const Args& args);

}  // namespace effnet::cli
