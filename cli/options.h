// The option groups the subcommands share, and how they become the stage library's options:
// declaring each group's flags (with defaults and help) and reading them back into typed options.
#pragma once

#include "apps/stages.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace effnet::cli {

// Ranges of the numeric options several subcommands share (each option declares its own; these
// are the ones that appear more than once).
constexpr int64_t kMaxBatch = 1 << 16;
constexpr int64_t kMaxWorkers = 256;
inline const Range kImageSizeRange = Range::between(0, kMaxResolution);  // 0: the model's own
inline const Range kBatchRange = Range::between(1, kMaxBatch);
inline const Range kWorkersRange = Range::between(0, kMaxWorkers);  // 0: the device's default
inline const Range kEpochsRange = Range::between(1, 100000);
inline const Range kPatienceRange = Range::at_least(0);  // 0: never stop early
inline const Range kSplitSeedRange = Range::between(0, 4294967295.0);  // numpy RandomState: 32 bits
inline const Range kValidationRange = Range::above(0);  // a share (< 1) or a count (>= 1)
inline const Range kTemperatureRange = Range::above(0);
inline const Range kThresholdRange = Range::from_below(0, 1);

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

// The inference subcommands (pseudolabel, predict) read a checkpoint and a folder of images with
// an optional label CSV; the folder's and the CSV's options are named for what they are there.
struct ImageInputOptions {
  const char* checkpoint_help;
  const char* folder;  // option name, what it is (for errors), help
  const char* folder_what;
  const char* folder_help;
  const char* labels;
  const char* labels_what;
  const char* labels_help;
};
struct ImageInputs {
  std::string checkpoint, folder, labels_csv;
  bool skip_bad_images = false;
};
// --checkpoint, the folder and label options, and --batch, --image-size, --device, --workers,
// --skip-bad-images.
void add_inference_options(Args& args, const ImageInputOptions& inputs);
// Reads them; the files and the folder must exist. The images are decoded by load_images.
ImageInputs image_inputs_from(const Args& args, const ImageInputOptions& inputs);
data::Dataset load_images(const ImageInputs& inputs);
app::InferenceSetup inference_setup_from(const Args& args);

}  // namespace effnet::cli
