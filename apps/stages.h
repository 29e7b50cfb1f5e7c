// The stages of the semi-supervised recipe as a library: fine-tune -> pseudo-label -> retrain ->
// predict. Each stage takes typed options and the decoded images it works on, and returns a
// typed record of what it did; the `effnet` subcommands (cli/) and the pipeline (pipeline.h)
// call these same functions. Images are decoded by the caller (load_labeled, load_images:
// model_setup.h), so that the pipeline decodes each folder once for all its stages.
//
// Every stage checks its settings and files before it does any work: check_*_options() holds
// the checks of the settings alone, which the pipeline runs for all stages before the first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/metrics_log.h"
#include "apps/model_setup.h"
#include "apps/splits.h"
#include "apps/train_loop.h"
#include "framework/data/dataset.h"

namespace effnet::app {

// Model, augmentation and optimisation settings of a training stage.
struct TrainingSetup {
  int64_t image_size = 0;  // 0: the model's resolution
  double flip = 0.5;       // horizontal flip probability
  int64_t crop_padding = 0;
  double erase = 0;        // random-erasing probability (data::Transform::erase_prob)
  TrainOptions train;
};

// How the inference stages (pseudo-label, predict) run.
struct InferenceSetup {
  int64_t batch = 256;
  int64_t image_size = 0;  // 0: the checkpoint's resolution
  Device device = Device::cpu();
  int workers = 1;
  bool mirror_average = false;  // test-time augmentation: average each image with its mirror
  bool quiet = false;
};

// What a training stage (fine-tune, retrain) hands on.
struct TrainingRecord {
  double best_val_accuracy = -1;
  int64_t best_epoch = -1, epochs = 0;  // epochs: completed, including those of interrupted runs
  bool stopped_early = false;
  int64_t train_images = 0, val_images = 0;
  double seconds = 0;                   // training + validation
  std::string best_checkpoint;          // OUT/best.h5
  std::vector<std::string> classes;     // the model's class names, in output order
  std::vector<EpochMetrics> history;    // one row per epoch
};

// A checkpoint over a set of images: how many, and against labels (when the images have them)
// the accuracy and the confusion matrix.
struct PredictRecord {
  int64_t images = 0;
  double accuracy = -1;                          // -1: the images have no labels
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]; empty without labels
  std::vector<std::string> classes;
  double seconds = 0;
};

struct PseudolabelRecord {
  int64_t considered = 0, kept = 0;
  std::vector<int64_t> per_class;          // kept labels per class
  std::vector<int64_t> correct_per_class;  // empty: the images had no true labels
  std::vector<double> thresholds;          // the confidence threshold of each class
  double precision = -1;                   // -1: no true labels
  double seconds = 0;
};

// ---- fine-tune ------------------------------------------------------------------------------
struct FinetuneOptions {
  LabeledSource labeled;      // its order file (or split_seed) chooses the split
  double val = 0.1;           // share (< 1) or count (>= 1) of the labeled images kept for validation
  uint32_t split_seed = 0;    // without an order file: RandomState(split_seed).permutation
  std::string model = "b0";   // empty with weights: the file's architecture
  std::string weights;        // optional: start from these weights (a new classifier when needed)
  TrainingSetup setup;
};
void check_finetune_options(const FinetuneOptions& opts);
// `labeled` is load_labeled(opts.labeled).
TrainingRecord run_finetune(const FinetuneOptions& opts, const data::Dataset& labeled);

// ---- pseudo-label ---------------------------------------------------------------------------
struct PseudolabelOptions {
  std::string checkpoint;
  std::string out_csv;             // file,label,confidence
  double temperature = 0.5, threshold = 0.8;
  bool adaptive = false;           // per-class thresholds from `threshold` (adaptive_thresholds)
  int64_t per_class_cap = 0;       // > 0: at most this many labels per class, the most confident
  int64_t limit = 0;               // > 0: only the first `limit` images (sorted file order)
  InferenceSetup run;
};
void check_pseudolabel_options(const PseudolabelOptions& opts);
// `unlabeled`: the images to label; when they carry labels (their true ones, for measuring) the
// record has the precision.
PseudolabelRecord run_pseudolabel(const PseudolabelOptions& opts, const data::Dataset& unlabeled);

// ---- retrain --------------------------------------------------------------------------------
struct RetrainOptions {
  LabeledSource labeled;      // its order file gives the labeled images' order in the combined set
  std::string pseudo_csv;     // the pseudo-label list, naming files of the unlabeled images
  std::string checkpoint;     // the fine-tuned model to start from
  double val = 0.25;          // validation share of labeled + pseudo-labeled
  uint32_t split_seed = 1;    // RandomState(split_seed).permutation, as the reference
  double labeled_share = 0;   // share of each batch from the labeled images (0: batches of the union)
  TrainingSetup setup;
};
void check_retrain_options(const RetrainOptions& opts);
// Trains on `labeled` plus the images of `unlabeled` the pseudo-label list names, with its labels.
TrainingRecord run_retrain(const RetrainOptions& opts, const data::Dataset& labeled, const data::Dataset& unlabeled);

// ---- predict --------------------------------------------------------------------------------
struct PredictOptions {
  std::string checkpoint;
  std::string out_csv;           // optional: file,class,confidence
  std::string class_names_file;  // optional, for weights files without class names
  InferenceSetup run;
};
void check_predict_options(const PredictOptions& opts);
// With labelled `images` (a test folder with its CSV) the record has accuracy and confusion.
PredictRecord run_predict(const PredictOptions& opts, const data::Dataset& images);

// ---- shared by the stages -------------------------------------------------------------------
// The data of a training stage: `split` of `ds`, evaluated at image_size with the weights'
// normalisation, trained with the setup's augmentation on top.
TrainData stage_train_data(const data::Dataset& ds, const Split& split, const WeightsMeta& meta, int64_t image_size,
                           const TrainingSetup& setup);
// Trains the stage's model with `t`, whose settings (the stage's own) get the setup's training
// settings and the class names appended first: together they identify the run in checkpoints.
TrainingRecord train_stage(EfficientNet& net, const WeightsMeta& meta, const TrainData& td, TrainOptions t,
                           const TrainingSetup& setup, const std::vector<std::string>& classes);
// Softmax probabilities of the loaded model over ds at `indices` (rows in that order), run as
// `setup` says, with a progress bar named `label` unless quiet.
std::vector<float> run_inference(LoadedModel& model, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                 const InferenceSetup& setup, const char* label);
// The settings that identify a training run (stored in checkpoints, compared on resume).
Settings training_settings(const TrainingSetup& setup);

}  // namespace effnet::app
