// What the stages share (see stages.h): their training data, the training run itself, the
// inference pass, and the settings that identify a training run.
#include <cstdio>
#include <new>

#include "apps/evaluate.h"
#include "apps/model_setup.h"
#include "apps/stages.h"

namespace effnet::app {
namespace {

// "at 4096x4096 pixels (--image-size 4096)": the resolution a stage runs at and which setting chose it.
std::string resolution_words(int64_t size, int64_t requested, const char* own) {
  const std::string px = std::to_string(size) + "x" + std::to_string(size) + " pixels";
  if (requested > 0) return px + " (--image-size " + std::to_string(requested) + ")";
  return px + " (" + own + " " + std::to_string(size) + "; no --image-size given)";
}

// The memory of a batch grows with its size times the resolution squared: when it runs out, the
// error says which settings asked for it (an absurd resolution, from the command line or a
// weights file, otherwise ends in a bare "tried to allocate 2288819 MiB").
template <class F>
auto naming_the_sizes(const std::string& work, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const OutOfMemory& e) {
    EFFNET_THROW_AS(OutOfMemory, e.message(), ", while ", work, "; lower these settings");
  } catch (const std::bad_alloc&) {
    EFFNET_THROW_AS(OutOfMemory, "out of host memory while ", work, "; lower these settings");
  }
}

}  // namespace

TrainData stage_train_data(const data::Dataset& ds, const Split& split, const WeightsMeta& meta, int64_t image_size,
                           const TrainingSetup& setup) {
  TrainData td;
  td.dataset = &ds;
  td.train = split.train;
  td.val = split.val;
  td.eval_transform = eval_transform(meta, image_size);
  td.train_transform = td.eval_transform;
  td.train_transform.flip_prob = setup.flip;
  td.train_transform.crop_padding = int(setup.crop_padding);
  td.train_transform.erase_prob = setup.erase;
  return td;
}

std::vector<float> run_inference(LoadedModel& model, const data::Dataset& ds, const std::vector<int64_t>& indices,
                                 const InferenceSetup& setup, const char* label) {
  model.net->to(setup.device);
  EvalOptions eval;
  eval.batch = setup.batch;
  eval.workers = setup.workers;
  eval.device = setup.device;
  eval.mirror_average = setup.mirror_average;
  eval.progress_label = setup.quiet ? "" : label;
  const data::Transform transform = eval_transform(model.meta, setup.image_size);
  const std::string work = std::string("predicting at ") +
                           resolution_words(transform.height, setup.image_size, "the checkpoint's resolution") +
                           " with --batch " + std::to_string(setup.batch);
  return naming_the_sizes(work, [&] { return predict_probabilities(*model.net, ds, indices, transform, eval); });
}

TrainingRecord train_stage(EfficientNet& net, const WeightsMeta& meta, const TrainData& td, TrainOptions t,
                           const TrainingSetup& setup, const std::vector<std::string>& classes) {
  for (auto& kv : training_settings(setup)) t.settings.push_back(kv);
  for (auto& kv : class_settings(classes)) t.settings.push_back(kv);
  const std::string work =
      "training at " + resolution_words(td.train_transform.height, setup.image_size, "the model's resolution") +
      " with --batch " + std::to_string(t.batch) + " (evaluation batch " + std::to_string(t.eval_batch) + ")";
  TrainResult r = naming_the_sizes(work, [&] { return train_model(net, meta, td, t); });
  TrainingRecord out;
  out.best_val_accuracy = r.best_val_accuracy;
  out.best_epoch = r.best_epoch;
  out.epochs = r.epochs_run;
  out.stopped_early = r.stopped_early;
  out.train_images = int64_t(td.train.size());
  out.val_images = int64_t(td.val.size());
  out.seconds = r.seconds;
  out.best_checkpoint = r.best_path;
  out.classes = classes;
  out.history = std::move(r.history);
  return out;
}

Settings training_settings(const TrainingSetup& s) {
  const TrainOptions& t = s.train;
  auto num = [](double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", x);
    return std::string(buf);
  };
  const OptimizerSpec& opt = t.optimizer;
  const ScheduleSpec& sched = t.schedule;
  Settings out = {{"image_size", std::to_string(s.image_size)},
                  {"flip", num(s.flip)},
                  {"crop_padding", std::to_string(s.crop_padding)},
                  {"optimizer", opt.name},
                  {"lr", num(opt.lr)},
                  {"momentum", num(opt.momentum)},
                  {"weight_decay", num(opt.weight_decay)},
                  {"schedule", sched.name}};
  if (sched.name == "step") {
    out.emplace_back("step_epochs", num(sched.step_epochs));
    out.emplace_back("gamma", num(sched.gamma));
  } else if (sched.name == "cosine") {
    out.emplace_back("warmup_epochs", num(sched.warmup_epochs));
    out.emplace_back("min_lr", num(sched.min_lr));
  }
  // Recipe options added later are listed only when on, so that runs from before them still
  // resume (their settings compare equal).
  if (s.erase > 0) out.emplace_back("erase", num(s.erase));
  if (t.label_smoothing > 0) out.emplace_back("label_smoothing", num(t.label_smoothing));
  if (t.ema_decay > 0) out.emplace_back("ema", num(t.ema_decay));
  if (t.mirror_average) out.emplace_back("tta", "mirror");
  out.emplace_back("batch", std::to_string(t.batch));
  out.emplace_back("epochs", std::to_string(t.epochs));
  out.emplace_back("patience", std::to_string(t.patience));
  out.emplace_back("head_only", t.head_only ? "1" : "0");
  out.emplace_back("seed", std::to_string(t.seed));
  return out;
}

}  // namespace effnet::app
