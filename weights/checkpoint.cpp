// Training checkpoints (see checkpoint.h).
#include "weights/checkpoint.h"

#include <cmath>

namespace effnet {

void save_checkpoint(const std::string& path, const nn::Module& model, const WeightsMeta& meta,
                     const Optimizer* optimizer, const TrainingState& s, const ExponentialMovingAverage* ema) {
  h5::write_atomically(path, [&](h5::File& f) {
    write_meta(f, meta);
    write_tensors(f, model);
    if (optimizer) {
      f.create_group("/optimizer");
      f.set_attr("type", optimizer->name(), "/optimizer");
      f.set_attr("lr", optimizer->lr(), "/optimizer");
      f.set_attr("step_count", optimizer->step_count(), "/optimizer");
      for (const auto& [name, t] : optimizer->state()) f.write("/optimizer/" + name, t);
    }
    if (ema) {
      f.create_group("/ema");
      f.set_attr("decay", ema->decay(), "/ema");
      f.set_attr("updates", ema->updates(), "/ema");
      for (const auto& [name, t] : ema->averages()) f.write("/ema/" + name, t);
    }
    f.create_group("/training");
    f.set_attr("stage", s.stage, "/training");
    f.set_attr("epoch", s.epoch, "/training");
    f.set_attr("step", s.step, "/training");
    f.set_attr("best_metric", s.best_metric, "/training");
    f.set_attr("best_epoch", s.best_epoch, "/training");
    f.set_attr("epochs_without_improvement", s.epochs_without_improvement, "/training");
    // uint64 through int64: the bit pattern is what matters.
    f.set_attr("rng_seed", int64_t(s.rng_seed), "/training");
    f.set_attr("rng_offset", int64_t(s.rng_offset), "/training");
    f.set_attr("config", s.config, "/training");
  });
}

namespace {
TrainingState read_state(const h5::File& f) {
  EFFNET_CHECK(f.has("/training"), f.path(), ": not a training checkpoint (no /training group)");
  TrainingState s;
  s.stage = f.attr_string("stage", "/training");
  s.epoch = f.attr_int("epoch", "/training");
  s.step = f.attr_int("step", "/training");
  s.best_metric = f.attr_double("best_metric", "/training");
  s.best_epoch = f.attr_int("best_epoch", "/training");
  s.epochs_without_improvement = f.attr_int("epochs_without_improvement", "/training");
  s.rng_seed = uint64_t(f.attr_int("rng_seed", "/training"));
  s.rng_offset = uint64_t(f.attr_int("rng_offset", "/training"));
  s.config = f.attr_string("config", "/training");
  return s;
}
}  // namespace

TrainingState read_training_state(const std::string& path) { return read_state(h5::File::open(path)); }

bool is_checkpoint(const std::string& path) {
  try {
    return h5::File::open(path).has("/training");
  } catch (const Error&) {
    return false;
  }
}

TrainingState load_checkpoint(const std::string& path, nn::Module& model, Optimizer* optimizer,
                              ExponentialMovingAverage* ema) {
  h5::File f = h5::File::open(path);
  read_meta(f);
  TrainingState s = read_state(f);
  // Everything is read and checked first; the optimizer's load_state is all-or-nothing, and the
  // model tensors are copied in only after it succeeded.
  StagedTensors weights = stage_tensors(f, model);
  // The weight average is read and checked before the optimizer is restored, and put in place
  // after it, so that any failure leaves model, optimizer and average as they were.
  NamedTensors averages;
  int64_t ema_updates = 0;
  if (ema) {
    EFFNET_CHECK(f.has("/ema"), path, ": checkpoint holds no weight average (was it trained without --ema?)");
    const double decay = f.attr_double("decay", "/ema");
    EFFNET_CHECK(decay == ema->decay(), path, ": its weight average has decay ", decay, ", not ", ema->decay());
    ema_updates = f.attr_int("updates", "/ema");
    EFFNET_CHECK(ema_updates >= 0, path, ": weight average update count ", ema_updates, " is negative");
    const size_t stored = f.datasets("/ema").size();
    EFFNET_CHECK(stored == ema->averages().size(), path, ": its weight average holds ", stored, " tensors, the model ",
                 ema->averages().size());
    for (const auto& [name, avg] : ema->averages()) {
      EFFNET_CHECK(f.has("/ema/" + name), path, ": the weight average has no '", name, "'");
      Tensor t = f.read_as_stored("/ema/" + name);
      EFFNET_CHECK(t.shape() == avg.shape(), path, ": weight average '", name, "' has shape ", shape_str(t.shape()),
                   ", the model's ", shape_str(avg.shape()));
      averages.emplace_back(name, t);
    }
  }
  if (optimizer) {
    EFFNET_CHECK(f.has("/optimizer"), path, ": checkpoint holds no optimizer state");
    std::string type = f.attr_string("type", "/optimizer");
    EFFNET_CHECK(type == optimizer->name(), path, ": optimizer state is for ", type, ", not ", optimizer->name());
    const int64_t steps = f.attr_int("step_count", "/optimizer");
    const double lr = f.attr_double("lr", "/optimizer");
    EFFNET_CHECK(steps >= 0 && std::isfinite(lr) && lr >= 0, path, ": optimizer step_count ", steps, " / lr ", lr,
                 " out of range");
    NamedTensors opt_state;
    // In the stored dtype: Adam's per-parameter step counters are int64, the rest follows the
    // parameters (float32, or float64 for a float64 model).
    for (const std::string& name : f.datasets("/optimizer"))
      opt_state.emplace_back(name, f.read_as_stored("/optimizer/" + name));
    try {
      optimizer->load_state(opt_state);
    } catch (const Error& e) {
      EFFNET_THROW(path, ": optimizer state does not fit: ", e.what());
    }
    optimizer->set_step_count(steps);
    optimizer->set_lr(lr);
  }
  if (ema) ema->load_state(averages, ema_updates);  // checked above: cannot fail now
  weights.commit();
  return s;
}

}  // namespace effnet
