// The shared training loop (see train_loop.h).
#include "apps/train_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/evaluate.h"
#include "apps/progress.h"
#include "framework/core/finite.h"
#include "framework/data/loader.h"
#include "framework/dist/all_reduce_op.h"
#include "framework/dist/gradient_reducer.h"
#include "framework/dist/process_group.h"
#include "framework/framework.h"
#include "weights/checkpoint.h"

namespace effnet::app {
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Where a non-finite loss can be traced cheaply: the first weight or buffer (in the model's
// state order: stem first), else the first gradient, holding NaN/Inf. Runs only once training has
// failed, so copying the model to the host costs nothing that matters.
std::string first_non_finite_tensor(const nn::Module& net) {
  auto words = [](const char* kind, const std::string& name, int64_t bad, const Tensor& t) {
    return std::string("; the first non-finite tensor is ") + kind + " '" + name + "' (" + std::to_string(bad) +
           " of " + std::to_string(t.numel()) + " values)";
  };
  for (const auto& [name, t] : net.state())
    if (const int64_t bad = find_non_finite(t).count) return words("the model tensor", name, bad, t);  // a weight or a running statistic
  for (const auto& [name, t] : net.named_parameters())
    if (const int64_t bad = find_non_finite(t.grad()).count) return words("the gradient of", name, bad, t);
  return "; every weight and gradient is finite, so it arose in the activations or the loss (a learning rate too "
         "high, or extreme inputs)";
}

// One step's results, kept on the device until the loop reads them back.
// A step whose loss and correct count wait on the device (the row of the buffers below at its
// position in the pending list).
struct PendingStep {
  int64_t step = 0;   // optimizer step, 1-based
  int64_t batch = 0;  // batch of the epoch, 1-based
  int64_t images = 0;
};

// Where the pending steps' numbers gather on the training device, one row per step, so that a
// read-back is two copies however many steps it covers (the labels are never copied back).
struct PendingBuffers {
  Tensor losses;  // (rows) in the loss's dtype
  Tensor counts;  // (rows, 4) int64: count_correct_into's counters
  void ensure(int64_t rows, const Tensor& loss) {
    if (losses.defined() && losses.size(0) == rows && losses.dtype() == loss.dtype() &&
        losses.device() == loss.device())
      return;
    losses = Tensor::empty({rows}, loss.dtype(), loss.device());
    counts = Tensor::empty({rows, 4}, DType::Int64, loss.device());
  }
};

struct EpochTally {
  double loss_sum = 0;
  int64_t correct = 0, images = 0, batches = 0;
};

// Every model tensor (weights and running statistics) takes rank 0's values.
void broadcast_state(nn::Module& net) {
  for (auto& [name, t] : net.state()) dist::broadcast(t, 0);
}
void broadcast_buffers(nn::Module& net) {
  for (auto& [name, t] : net.named_buffers()) dist::broadcast(t, 0);
}

// The gradient reducer's bucket size: EFFNET_BUCKET_MB (MiB, as DDP's bucket_cap_mb), else 4:
// B0's gradients in 4-5 buckets that overlap backward, where DDP's 25 MiB would hold all of them
// in one (docs/distributed.md: the model and the 2-rank measurement).
size_t bucket_bytes() {
  const char* s = std::getenv("EFFNET_BUCKET_MB");
  const double mib = s ? std::atof(s) : 4.0;
  EFFNET_CHECK(mib > 0, "EFFNET_BUCKET_MB must be a positive number of MiB, got '", s ? s : "", "'");
  return size_t(mib * 1024 * 1024);
}

// Rank r's dropout / drop-connect stream: rank 0 keeps the run's seed, the others derive theirs
// from it, so the ranks drop different units (as separate processes of one big batch would) and a
// resume, which restores rank 0's generator, re-derives the same streams. The offsets advance
// alike on every rank (the same ops on the same shapes).
uint64_t rank_seed(uint64_t seed, int rank) {
  if (rank == 0) return seed;
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t(rank);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

void check_train_options(const TrainOptions& o) {
  EFFNET_CHECK(!o.out_dir.empty(), o.stage, ": an output folder is required (--out)");
  EFFNET_CHECK(o.epochs >= 1, o.stage, ": epochs must be at least 1, got ", o.epochs);
  EFFNET_CHECK(o.batch >= 1 && o.eval_batch >= 1, o.stage, ": batch sizes must be positive");
  EFFNET_CHECK(o.patience >= 0, o.stage, ": patience must be >= 0 (0: never stop early), got ", o.patience);
  EFFNET_CHECK(o.workers >= 0, o.stage, ": workers must be >= 0, got ", o.workers);
  EFFNET_CHECK(o.label_smoothing >= 0 && o.label_smoothing < 1, o.stage, ": label smoothing must be in [0, 1), got ",
               o.label_smoothing);
  EFFNET_CHECK(o.ema_decay >= 0 && o.ema_decay < 1, o.stage,
               ": the weight average's decay must be in [0, 1) (0: none), got ", o.ema_decay);
  check_optimizer_spec(o.optimizer);
  check_schedule_spec(o.schedule);
}

TrainResult train_model(EfficientNet& net, const WeightsMeta& meta, const TrainData& td, const TrainOptions& opts) {
  check_train_options(opts);
  EFFNET_CHECK(td.dataset && !td.train.empty() && !td.val.empty(), opts.stage,
               ": needs training and validation images");
  const int world = dist::world_size(), rank = dist::rank();
  const bool distributed = dist::distributed();
  const bool main_rank = rank == 0;
  const bool quiet = opts.quiet || !main_rank;  // one progress bar and log, rank 0's
  Settings settings = opts.settings;
  if (world > 1) settings.emplace_back("world-size", std::to_string(world));
  if (world > 1 && opts.sync_bn) settings.emplace_back("sync-bn", "true");
  EFFNET_CHECK(world == 1 || int64_t(td.train.size()) >= opts.batch * world, opts.stage, ": ", td.train.size(),
               " training images make no global batch of ", world, " ranks x ", opts.batch,
               " (--batch is per rank): use a smaller --batch or fewer ranks");
  fs::create_directories(opts.out_dir);
  TrainResult r;
  r.best_path = (fs::path(opts.out_dir) / "best.h5").string();
  r.last_path = (fs::path(opts.out_dir) / "last.h5").string();
  const std::string metrics_csv = (fs::path(opts.out_dir) / "metrics.csv").string();

  net.to(opts.device);
  net.freeze_backbone(opts.head_only);
  std::unique_ptr<Optimizer> optimizer = make_optimizer(opts.optimizer, net.trainable_parameters());
  // The average covers every weight and running statistic (frozen ones stay equal to theirs).
  std::unique_ptr<ExponentialMovingAverage> ema;
  if (opts.ema_decay > 0) ema = std::make_unique<ExponentialMovingAverage>(net.state(), opts.ema_decay);
  std::unique_ptr<dist::GradientReducer> reducer;
  if (distributed) {
    broadcast_state(net);
    reducer = std::make_unique<dist::GradientReducer>(net.trainable_parameters(), bucket_bytes());
    if (opts.sync_bn) nn::set_sync_batch_norm(net, dist::all_reduce_sum);
  }
  // Per-process statistics again when training ends, whatever way it ends.
  struct SyncOff {
    EfficientNet& net;
    bool on;
    ~SyncOff() {
      if (on) nn::set_sync_batch_norm(net, nullptr);
    }
  } sync_off{net, distributed && opts.sync_bn};

  data::LoaderOptions lo;
  lo.batch_size = opts.batch;
  lo.shuffle = true;
  lo.first_group_end = td.first_group_end;
  lo.first_group_share = td.first_group_share;
  lo.last_batch = data::LastBatch::drop_if_full;  // the reference drops the last partial batch
  lo.rank = rank;
  lo.world = world;
  lo.seed = opts.seed;
  lo.workers = std::max(1, opts.workers);
  lo.transform = td.train_transform;
  lo.device = opts.device;
  data::Loader loader(*td.dataset, td.train, lo);
  const int64_t batches = loader.batches_per_epoch();
  if (!quiet && loader.first_group_rows() > 0)
    std::printf("%s: each batch %lld of %lld %s\n", opts.stage.c_str(),
                static_cast<long long>(loader.first_group_rows()), static_cast<long long>(opts.batch * world),
                td.first_group_note.c_str());
  std::unique_ptr<LRSchedule> schedule = make_schedule(opts.schedule, opts.optimizer.lr, opts.epochs, batches);

  TrainingState state;
  state.stage = opts.stage;
  state.config = format_settings(settings);
  if (fs::exists(r.last_path)) {
    TrainingState saved = read_training_state(r.last_path);
    EFFNET_CHECK(saved.stage == opts.stage, r.last_path, " is a checkpoint of stage '", saved.stage, "', not '",
                 opts.stage, "'");
    std::vector<std::string> diffs = settings_differences(parse_config_text(saved.config, r.last_path), settings);
    std::string listed;
    for (const std::string& d : diffs) listed += "\n  " + d;
    EFFNET_CHECK(diffs.empty(), opts.out_dir, " holds a ", opts.stage, " run with other settings:", listed,
                 "\nuse another output folder, or delete this one to start over");
    state = load_checkpoint(r.last_path, net, optimizer.get(), ema.get());
    default_generator().set_state(rank_seed(state.rng_seed, rank), state.rng_offset);
    if (fs::exists(metrics_csv))
      for (const EpochMetrics& m : read_metrics_csv(metrics_csv))
        if (m.epoch <= state.epoch) r.history.push_back(m);
    r.resumed_from = state.epoch;
    if (!quiet)
      std::printf("%s: resuming from %s after epoch %lld (best validation accuracy %.2f%% at epoch %lld)\n",
                  opts.stage.c_str(), r.last_path.c_str(), (long long)state.epoch, 100.0 * state.best_metric,
                  (long long)state.best_epoch);
  } else if (rank > 0) {
    default_generator().set_state(rank_seed(default_generator().seed(), rank), default_generator().offset());
  }

  auto finished = [&] {
    return state.epoch >= opts.epochs || (opts.patience > 0 && state.epochs_without_improvement >= opts.patience);
  };
  const bool terminal = !quiet && stdout_is_terminal();
  const bool on_gpu = opts.device.is_cuda();
  // Reading a loss back waits for the GPU: there, read only at log points (a bar redraws more often).
  const int64_t read_every = !on_gpu ? 1 : terminal ? 10 : opts.log_every > 0 ? opts.log_every : 50;
  EvalOptions eval;
  eval.batch = opts.eval_batch;
  eval.workers = opts.workers;
  eval.device = opts.device;
  eval.mirror_average = opts.mirror_average;

  while (!finished()) {
    const int64_t epoch = state.epoch + 1;  // 1-based, as printed
    const auto t0 = std::chrono::steady_clock::now();
    net.train();  // with a frozen backbone, only the classifier
    loader.start_epoch(epoch - 1);
    char label[96];
    std::snprintf(label, sizeof label, "%s epoch %lld/%lld", opts.stage.c_str(), (long long)epoch,
                  (long long)opts.epochs);
    Progress progress(label, batches, terminal, quiet ? 0 : opts.log_every);
    std::vector<PendingStep> pending;
    PendingBuffers buffers;
    EpochTally tally;
    // A loss as text; NaN without the sign glibc prints for some NaNs ("-nan").
    auto loss_text = [](double x) { return std::isnan(x) ? std::string("nan") : std::to_string(x); };
    // Stops training on a non-finite loss, before anything of this epoch is saved.
    auto stop_non_finite = [&](const std::string& what) {
      std::string kept = state.epoch > 0 ? r.last_path + " (after epoch " + std::to_string(state.epoch) + ")"
                                         : std::string("none: no epoch had completed");
      EFFNET_THROW(opts.stage, ": ", what, "; training stopped. Last good checkpoint: ", kept);
    };
    // Per pending step: the loss times the images, the correct predictions and the images, summed
    // over the ranks when data-parallel (one all-reduce per read), so every rank sees the global
    // numbers and a non-finite loss on any rank stops all of them at the same step.
    auto read_back = [&] {
      std::vector<double> sums;
      sums.reserve(3 * pending.size());
      const int64_t n = int64_t(pending.size());
      if (n > 0) {
        // Two copies for all pending steps (the first waits for the GPU).
        const Tensor l = buffers.losses.slice(0, n);
        std::vector<double> losses;
        if (l.dtype() == DType::Float32) {
          const std::vector<float> f = l.to_vector<float>();  // read as stored: no dtype kernel on the device
          losses.assign(f.begin(), f.end());
        } else {
          losses = l.to_vector<double>();
        }
        const std::vector<int64_t> counts = buffers.counts.slice(0, n).to_vector<int64_t>();
        for (int64_t k = 0; k < n; ++k) {
          const std::vector<int64_t> c(counts.begin() + 4 * k, counts.begin() + 4 * (k + 1));
          const double images = double(pending[size_t(k)].images);
          sums.insert(sums.end(), {losses[size_t(k)] * images, double(correct_of(c, net.config().num_classes)), images});
        }
      }
      if (distributed && !sums.empty()) {
        Tensor t = from_vector(sums, {int64_t(sums.size())});
        dist::all_reduce(t);
        sums = t.to_vector<double>();
      }
      for (size_t k = 0; k < pending.size(); ++k) {
        const PendingStep& p = pending[k];
        const double loss_times_n = sums[3 * k], images = sums[3 * k + 2];
        if (!std::isfinite(loss_times_n)) {
          stop_non_finite("the loss became " + loss_text(loss_times_n / images) + " at epoch " +
                          std::to_string(epoch) + ", step " + std::to_string(p.step) + " (batch " +
                          std::to_string(p.batch) + " of " + std::to_string(batches) + ")" +
                          first_non_finite_tensor(net));
        }
        tally.correct += int64_t(sums[3 * k + 1]);
        tally.loss_sum += loss_times_n;
        tally.images += int64_t(images);
        tally.batches++;
      }
      pending.clear();
      progress.update(tally.batches, tally.images, tally.images ? tally.loss_sum / double(tally.images) : -1,
                      tally.images ? double(tally.correct) / double(tally.images) : -1);
    };

    data::Batch b;
    int64_t batch_in_epoch = 0;
    while (loader.next(b)) {
      optimizer->set_lr(schedule->lr_at(optimizer->step_count()));
      optimizer->zero_grad();
      Tensor logits = net.forward(b.images);
      Tensor loss = cross_entropy(logits, b.labels, opts.label_smoothing);
      loss.backward();
      if (reducer) reducer->finish();  // every rank now holds the averaged gradients
      optimizer->step();
      if (ema) ema->update();
      {
        NoGradGuard no_grad;
        buffers.ensure(read_every, loss);
        const int64_t k = int64_t(pending.size());
        buffers.losses.slice(k, k + 1).copy_(loss.detach().reshape({1}));
        count_correct_into(logits.detach(), b.labels, buffers.counts.slice(k, k + 1).reshape({4}));
      }
      pending.push_back({optimizer->step_count(), ++batch_in_epoch, b.labels.size(0)});
      if (int64_t(pending.size()) >= read_every) read_back();
      if (opts.after_step) opts.after_step({opts.stage, epoch, batch_in_epoch, optimizer->step_count()});
    }
    read_back();
    const double train_seconds = seconds_since(t0);
    // Validation, and best.h5, see the averaged weights in the model's place until swapped back.
    if (ema) ema->swap();
    // Per-rank statistics differ between ranks; validation and the checkpoints use rank 0's.
    if (distributed && !opts.sync_bn) broadcast_buffers(net);

    std::vector<float> probs = predict_probabilities(net, *td.dataset, td.val, td.eval_transform, eval);
    const std::vector<int64_t> val_labels = labels_at(*td.dataset, td.val);
    const int64_t classes = net.config().num_classes;
    EpochMetrics m;
    m.stage = opts.stage;
    m.epoch = epoch;
    m.lr = optimizer->lr();
    m.train_loss = tally.loss_sum / double(std::max<int64_t>(1, tally.images));
    m.train_accuracy = double(tally.correct) / double(std::max<int64_t>(1, tally.images));
    m.val_accuracy = accuracy_of(probs, classes, val_labels);
    m.val_loss = mean_nll(probs, classes, val_labels);
    // A non-finite validation loss (e.g. NaN running statistics, which only evaluation uses) must
    // not become "best": stop as for a non-finite training loss.
    if (!std::isfinite(m.val_loss))
      stop_non_finite("the validation loss became " + loss_text(m.val_loss) + " at epoch " +
                      std::to_string(epoch) + " (training loss " + loss_text(m.train_loss) +
                      "): the model's evaluation-mode output is not finite" + first_non_finite_tensor(net));
    m.images_per_second = double(tally.images) / std::max(train_seconds, 1e-9);
    m.best = m.val_accuracy > state.best_metric;  // strictly better, as the reference
    if (m.best) {
      state.best_metric = m.val_accuracy;
      state.best_epoch = epoch;
      state.epochs_without_improvement = 0;
    } else {
      state.epochs_without_improvement++;
    }
    state.epoch = epoch;
    state.step = optimizer->step_count();
    state.rng_seed = default_generator().seed();
    state.rng_offset = default_generator().offset();
    // best.h5, then the metrics, then last.h5: a crash in between repeats this epoch on resume,
    // and the repeat writes the same files again.
    // Rank 0 alone writes: the other ranks hold the same weights and optimizer state.
    if (m.best && main_rank) save_checkpoint(r.best_path, net, meta, nullptr, state);
    if (ema) ema->swap();  // the trained weights again, for last.h5 and the next epoch
    m.seconds = seconds_since(t0);
    r.history.push_back(m);
    if (main_rank) write_metrics(opts.out_dir, r.history);
    if (main_rank) save_checkpoint(r.last_path, net, meta, optimizer.get(), state, ema.get());

    char summary[320];
    std::snprintf(summary, sizeof summary,
                  "%s: loss %.4f acc %.2f%% | val loss %.4f acc %.2f%%%s | lr %.3g | %s, %.0f img/s", label,
                  m.train_loss, 100.0 * m.train_accuracy, m.val_loss, 100.0 * m.val_accuracy, m.best ? " (best)" : "",
                  m.lr, format_duration(m.seconds).c_str(), m.images_per_second);
    if (!quiet) progress.finish(summary);
  }

  r.epochs_run = state.epoch;
  r.best_val_accuracy = state.best_metric;
  r.best_epoch = state.best_epoch;
  r.stopped_early = state.epoch < opts.epochs;
  for (const EpochMetrics& m : r.history) r.seconds += m.seconds;
  if (main_rank) {
    EFFNET_CHECK(fs::exists(r.best_path), opts.stage, ": ", r.best_path, " is missing after training");
    load_weights(net, r.best_path);
  }
  if (distributed) broadcast_state(net);  // the best weights, from rank 0's file
  net.freeze_backbone(false);
  if (!quiet)
    std::printf("%s: best validation accuracy %.2f%% at epoch %lld of %lld%s; weights in %s\n", opts.stage.c_str(),
                100.0 * r.best_val_accuracy, (long long)r.best_epoch, (long long)r.epochs_run,
                r.stopped_early ? " (stopped early)" : "", r.best_path.c_str());
  return r;
}

}  // namespace effnet::app
