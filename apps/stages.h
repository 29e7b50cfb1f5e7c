// The four stages of the semi-supervised recipe as functions, so that each `effnet` subcommand
// and the pipeline run the same code: fine-tune -> pseudo-label -> retrain -> predict.
// Defined beside their commands (cmd_finetune.cpp, cmd_pseudolabel.cpp, cmd_retrain.cpp,
// cmd_predict.cpp). Each one checks its inputs (files, folders, model names, architectures)
// before it does any work.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/model_setup.h"
#include "apps/splits.h"
#include "apps/train_loop.h"

namespace effnet::app {

// Where labeled images come from.
struct LabeledSource {
  std::string dir;           // <dir>/<class>/<file>
  std::string order_csv;     // optional: the split order (effnet prepare's labeled_order.csv)
  std::string classes_file;  // optional: class names in label order (classes.txt)
  bool skip_bad_images = false;
};

// Model, augmentation and optimisation settings shared by fine-tune and retrain.
struct TrainingSetup {
  int64_t image_size = 0;  // 0: the model's resolution
  double flip = 0.5;       // horizontal flip probability
  int64_t crop_padding = 0;
  TrainOptions train;
};

// How the inference stages (pseudo-label, predict) run.
struct InferenceSetup {
  int64_t batch = 256;
  int64_t image_size = 0;  // 0: the checkpoint's resolution
  Device device = Device::cpu();
  int workers = 1;
  bool skip_bad_images = false;
  bool quiet = false;
};

// ---- fine-tune ------------------------------------------------------------------------------
struct FinetuneOptions {
  LabeledSource labeled;
  double val = 0.1;           // share (< 1) or count (>= 1) of the labeled images kept for validation
  uint32_t split_seed = 0;    // without an order file: RandomState(split_seed).permutation
  std::string model = "b0";   // empty with weights: the file's architecture
  std::string weights;        // optional: start from these weights (a new classifier when needed)
  TrainingSetup setup;
};
struct StageOutcome {
  TrainResult result;
  std::vector<std::string> classes;
  int64_t train_images = 0, val_images = 0;
};
StageOutcome run_finetune(const FinetuneOptions& opts);

// ---- pseudo-label ---------------------------------------------------------------------------
struct PseudolabelOptions {
  std::string checkpoint;
  std::string unlabeled_dir;
  std::string out_csv;             // file,label,confidence
  std::string true_labels_csv;     // optional: measure precision
  double temperature = 0.5, threshold = 0.8;
  int64_t limit = 0;               // > 0: only the first `limit` images (sorted file order)
  InferenceSetup run;
};
struct PseudolabelResult {
  int64_t considered = 0, kept = 0;
  std::vector<int64_t> per_class;
  std::vector<int64_t> correct_per_class;  // empty: no true labels given
  std::vector<std::string> classes;
  double precision = -1;  // -1: no true labels given
  double seconds = 0;
};
PseudolabelResult run_pseudolabel(const PseudolabelOptions& opts);

// ---- retrain --------------------------------------------------------------------------------
struct RetrainOptions {
  LabeledSource labeled;
  std::string unlabeled_dir, pseudo_csv;
  std::string checkpoint;     // the fine-tuned model to start from
  double val = 0.25;          // validation share of labeled + pseudo-labeled
  uint32_t split_seed = 1;    // RandomState(split_seed).permutation, as the reference
  TrainingSetup setup;
};
StageOutcome run_retrain(const RetrainOptions& opts);

// ---- predict --------------------------------------------------------------------------------
struct PredictOptions {
  std::string checkpoint;
  std::string input_dir;
  std::string labels_csv;        // optional: accuracy and confusion matrix
  std::string out_csv;           // file,class,confidence
  std::string class_names_file;  // optional, for weights files without class names
  InferenceSetup run;
};
struct PredictResult {
  int64_t images = 0;
  double accuracy = -1;  // -1: no labels
  std::vector<std::vector<int64_t>> confusion;
  std::vector<std::string> classes;
  double seconds = 0;
};
PredictResult run_predict(const PredictOptions& opts);
// Writes confusion.csv-style text: header of class names, one row per true class.
std::string confusion_csv(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& classes);

// ---- shared by the stages -------------------------------------------------------------------
// The data of a training stage: `split` of `ds`, evaluated at image_size with the weights'
// normalisation, trained with the setup's augmentation on top.
TrainData stage_train_data(const data::Dataset& ds, const Split& split, const WeightsMeta& meta, int64_t image_size,
                           const TrainingSetup& setup);
// Trains the stage's model with `t`, whose settings (the stage's own) get the setup's training
// settings and the class names appended first: together they identify the run in checkpoints.
StageOutcome train_stage(EfficientNet& net, const WeightsMeta& meta, const TrainData& td, TrainOptions t,
                         const TrainingSetup& setup, const std::vector<std::string>& classes);

// Softmax probabilities of the loaded model over ds at `indices` (rows in that order), run as
// `setup` says, with a progress bar named `label` unless quiet.
std::vector<float> run_inference(LoadedModel& model, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                 const InferenceSetup& setup, const char* label);

// ---- command-line glue shared by the subcommands and the pipeline ---------------------------
// Declares --data (described by data_help), --labeled, --split-order (order_help), --classes and
// --skip-bad-images.
void add_labeled_options(Args& args, const char* data_help, const char* order_help);
// Reads them: the parts of --data's layout first, then the explicit flags; a labeled folder is
// required (errors start with `command`).
LabeledSource labeled_source_from(const Args& args, const char* command);
// Declares --epochs and --patience with these defaults, and --out.
void add_stopping_options(Args& args, const char* epochs, const char* patience);
// Reads them into setup.train (--out is required).
void read_stopping_options(const Args& args, const char* command, TrainingSetup& setup);
// Declares --batch, --image-size, --device, --workers and --skip-bad-images of the inference
// subcommands, and reads them.
void add_inference_options(Args& args);
InferenceSetup inference_setup_from(const Args& args);

// Declares --image-size, --flip, --crop-padding, --optimizer, --lr, --momentum, --weight-decay,
// --schedule, --warmup-epochs, --step-epochs, --gamma, --min-lr, --batch, --eval-batch, --seed,
// --device, --workers, --log-every, --stop-after-steps.
void add_training_options(Args& args);
// Reads them (and sets the device); epochs, patience, stage and out_dir are left to the caller.
TrainingSetup training_setup_from(const Args& args);
// The settings that identify a training run (stored in checkpoints, compared on resume).
Settings training_settings(const TrainingSetup& setup);

}  // namespace effnet::app
