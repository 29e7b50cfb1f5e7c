// The batch loader (see loader.h). Slots form a ring of `prefetch` entries; batch b always uses
// slot b % prefetch, so batches come out in order however the workers interleave.
#include "framework/data/loader.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "framework/core/backend.h"
#include "framework/core/philox.h"
#include "framework/data/loader_kernels.h"

namespace effnet::data {

Loader::Loader(const Dataset& ds, std::vector<int64_t> indices, LoaderOptions opts)
    : ds_(ds), indices_(std::move(indices)), opts_(std::move(opts)) {
  EFFNET_CHECK(opts_.batch_size > 0, "Loader: batch_size must be positive, got ", opts_.batch_size);
  EFFNET_CHECK(opts_.workers >= 1, "Loader: needs at least one worker, got ", opts_.workers);
  EFFNET_CHECK(opts_.prefetch >= 1, "Loader: prefetch must be at least 1, got ", opts_.prefetch);
  EFFNET_CHECK(!indices_.empty(), "Loader: empty index list for the dataset at ", ds_.root);
  for (int64_t i : indices_)
    EFFNET_CHECK(i >= 0 && i < ds_.size(), "Loader: index ", i, " outside the dataset at ", ds_.root, " (",
                 ds_.size(), " images)");
  EFFNET_CHECK(opts_.world >= 1 && opts_.rank >= 0 && opts_.rank < opts_.world, "Loader: rank ", opts_.rank,
               " outside a world of ", opts_.world);
  EFFNET_CHECK(opts_.world == 1 || opts_.last_batch != LastBatch::keep, "Loader: sharding over ", opts_.world,
               " ranks needs the last batch dropped (LastBatch::drop or drop_if_full: every rank the same",
               " number of full batches)");
  const int64_t global = opts_.batch_size * opts_.world;
  int64_t n = int64_t(indices_.size()), per_batch = global;  // what sets the epoch's length
  if (opts_.first_group_share != 0) {
    const double share = opts_.first_group_share;
    EFFNET_CHECK(share > 0 && share < 1, "Loader: first_group_share must lie in (0, 1), got ", share);
    for (int64_t i : indices_) (i < opts_.first_group_end ? first_ : second_).push_back(i);
    EFFNET_CHECK(!first_.empty() && !second_.empty(), "Loader: a group share of ", share, " needs both groups, got ",
                 first_.size(), " indices below ", opts_.first_group_end, " and ", second_.size(), " from it on");
    per_first_ = std::llround(share * double(global));
    EFFNET_CHECK(per_first_ >= 1 && per_first_ < global, "Loader: a share of ", share, " of a global batch of ", global,
                 " rounds to ", per_first_, " rows: both groups need at least one row per batch");
    n = int64_t(second_.size());
    per_batch = global - per_first_;
  }
  // Under data parallelism drop_if_full always drops: a partial batch cannot be shared by the ranks.
  drop_last_ = opts_.last_batch == LastBatch::drop ||
               (opts_.last_batch == LastBatch::drop_if_full && (n >= per_batch || opts_.world > 1));
  batches_ = drop_last_ ? n / per_batch : (n + per_batch - 1) / per_batch;
  EFFNET_CHECK(batches_ > 0, "Loader: ", n, " samples make no full batch of ", opts_.batch_size,
               opts_.world > 1 ? " per rank over " + std::to_string(opts_.world) + " ranks" : std::string(),
               " with the last batch dropped");
  EFFNET_CHECK(per_first_ == 0 || batches_ * global + int64_t(first_.size()) < (int64_t(1) << 32),
               "Loader: a group share's epoch of ", batches_, " batches of ", global, " takes over 2^32 draws");
  const Image& first = ds_.image(indices_[0]);
  out_h_ = opts_.transform.out_height(first.height);
  out_w_ = opts_.transform.out_width(first.width);
  slots_.resize(size_t(opts_.prefetch));
  if (opts_.device.is_cuda())
    EFFNET_CUDA_ONLY(staging_ = cuda_ops::make_device_staging(opts_.device, opts_.prefetch, opts_.batch_size,
                                                              Shape{3, out_h_, out_w_}));
  for (int w = 0; w < opts_.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  try {
    // Device tensors still being copied go back to the allocator only once the compute stream
    // is ordered after their copy.
    for (size_t s = 0; s < slots_.size(); ++s)
      if (staging_ && slots_[s].state == SlotState::Uploaded) staging_->compute_waits_for(int(s));
  } catch (const std::exception& e) {
    std::cerr << "effnet: Loader shutdown: " << e.what() << "\n";
  }
}

int64_t Loader::samples_per_epoch() const {
  if (drop_last_) return batches_ * opts_.batch_size;
  return per_first_ > 0 ? int64_t(second_.size()) + batches_ * per_first_ : int64_t(indices_.size());
}

namespace {
// Fisher-Yates on Philox in the batch-order domain (top counter bit set, which keeps these draws
// apart from augmentation's; the epoch in bits 40-62). `stream` (bits 32-39) separates the plain
// shuffle (0) from the group-share draws; draw i of it takes bits 0-31.
void shuffle_in_place(std::vector<int64_t>& v, uint64_t seed, int64_t epoch, uint64_t stream, uint64_t first_draw = 0) {
  for (size_t i = v.size(); i-- > 1;) {
    const uint64_t counter = (uint64_t(1) << 63) | (uint64_t(epoch) << 40) | (stream << 32) | (first_draw + i);
    std::swap(v[i], v[size_t(philox::sample_randint(seed, counter, 0, int64_t(i) + 1))]);
  }
}
}  // namespace

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  EFFNET_CHECK(epoch >= 0 && epoch < (int64_t(1) << 23), "Loader: epoch ", epoch, " outside [0, 2^23)");
  if (per_first_ > 0) return mixed_order(epoch);
  std::vector<int64_t> order = indices_;
  if (opts_.shuffle) shuffle_in_place(order, opts_.seed, epoch, 0);
  return order;
}

// Group share: stream 1 permutes the second group once; stream 2 permutes each pass over the first
// (pass p's draws numbered from p * |first|), stream 3 each global batch's rows (from b * global),
// so that under data parallelism every rank's slice holds both groups. Without shuffle the groups
// keep their order and the first one simply cycles.
std::vector<int64_t> Loader::mixed_order(int64_t epoch) const {
  const int64_t global = opts_.batch_size * opts_.world, per_second = global - per_first_;
  std::vector<int64_t> second = second_;
  if (opts_.shuffle) shuffle_in_place(second, opts_.seed, epoch, 1);
  std::vector<int64_t> order, pass;
  size_t next_first = first_.size(), next_second = 0;
  int64_t passes = 0;
  for (int64_t b = 0; b < batches_; ++b) {
    const size_t begin = order.size();
    for (int64_t r = 0; r < per_first_; ++r) {
      if (next_first == first_.size()) {  // a new pass over the first group
        pass = first_;
        if (opts_.shuffle) shuffle_in_place(pass, opts_.seed, epoch, 2, uint64_t(passes) * first_.size());
        ++passes;
        next_first = 0;
      }
      order.push_back(pass[next_first++]);
    }
    for (int64_t r = 0; r < per_second && next_second < second.size(); ++r) order.push_back(second[next_second++]);
    if (opts_.shuffle) {
      std::vector<int64_t> rows(order.begin() + int64_t(begin), order.end());
      shuffle_in_place(rows, opts_.seed, epoch, 3, uint64_t(b) * uint64_t(global));
      std::copy(rows.begin(), rows.end(), order.begin() + int64_t(begin));
    }
  }
  return order;
}

void Loader::start_epoch(int64_t epoch) {
  std::vector<int64_t> order = epoch_order(epoch);
  std::unique_lock<std::mutex> lock(mu_);
  started_ = false;  // no new claims while the slots are reset
  cv_.wait(lock, [&] { return filling_ == 0; });
  for (size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    if (staging_ && slot.state == SlotState::Uploaded) staging_->compute_waits_for(int(s));
    slot = Slot();
  }
  order_ = std::move(order);
  epoch_ = epoch;
  produce_next_ = consume_next_ = 0;
  started_ = true;
  lock.unlock();
  cv_.notify_all();
}

bool Loader::ready(int64_t batch) const {
  const Slot& s = slots_[size_t(batch % opts_.prefetch)];
  return s.batch == batch && (s.state == SlotState::Ready || s.state == SlotState::Uploaded);
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] {
      return stop_ || (started_ && produce_next_ < batches_ && produce_next_ < consume_next_ + opts_.prefetch &&
                       slots_[size_t(produce_next_ % opts_.prefetch)].state == SlotState::Free);
    });
    if (stop_) return;
    const int64_t b = produce_next_++;
    const int si = int(b % opts_.prefetch);
    Slot& slot = slots_[size_t(si)];
    slot.state = SlotState::Filling;
    slot.batch = b;
    slot.error = nullptr;
    const int64_t begin = (b * opts_.world + opts_.rank) * opts_.batch_size;
    const int64_t end = std::min<int64_t>(begin + opts_.batch_size, int64_t(order_.size()));
    slot.indices.assign(order_.begin() + begin, order_.begin() + end);
    const int64_t epoch = epoch_;
    ++filling_;
    lock.unlock();
    std::exception_ptr error;
    try {
      fill(slot, si, epoch);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    --filling_;
    slot.error = error;
    slot.state = SlotState::Ready;
    cv_.notify_all();
  }
}

void Loader::fill(Slot& slot, int slot_index, int64_t epoch) {
  const int64_t rows = int64_t(slot.indices.size());
  const int64_t sample = 3 * out_h_ * out_w_;
  float* images;
  int64_t* labels;
  if (staging_) {
    staging_->wait_until_reusable(slot_index);
    images = staging_->host_images(slot_index);
    labels = staging_->host_labels(slot_index);
  } else {
    slot.images = Tensor::empty({rows, 3, out_h_, out_w_});
    slot.labels = Tensor::empty({rows}, DType::Int64);
    images = slot.images.data<float>();
    labels = slot.labels.data<int64_t>();
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t idx = slot.indices[size_t(r)];
    const Image& img = ds_.image(idx);
    const int oh = opts_.transform.out_height(img.height), ow = opts_.transform.out_width(img.width);
    EFFNET_CHECK(oh == out_h_ && ow == out_w_, "Loader: image ", ds_.files[size_t(idx)], " (", img.width, "x",
                 img.height, ") would give a ", ow, "x", oh, " sample but the batches are ", out_w_, "x", out_h_,
                 "; set transform.height and transform.width to resize every image");
    opts_.transform.apply(img, opts_.seed, uint64_t(epoch), uint64_t(idx), images + r * sample);
    labels[r] = ds_.labels[size_t(idx)];
  }
}

void Loader::upload(Slot& slot, int slot_index) {
  staging_->upload(slot_index, int64_t(slot.indices.size()), slot.images, slot.labels);
  slot.state = SlotState::Uploaded;
}

bool Loader::next(Batch& out) {
  std::unique_lock<std::mutex> lock(mu_);
  EFFNET_CHECK(started_, "Loader::next: call start_epoch(epoch) first");
  if (consume_next_ >= batches_) return false;
  const int64_t b = consume_next_++;
  const int si = int(b % opts_.prefetch);
  Slot& slot = slots_[size_t(si)];
  cv_.wait(lock, [&] { return ready(b); });
  if (slot.error) {
    std::exception_ptr e = slot.error;
    slot = Slot();
    lock.unlock();
    cv_.notify_all();
    std::rethrow_exception(e);
  }
  if (staging_) {
    if (slot.state == SlotState::Ready) upload(slot, si);
    staging_->compute_waits_for(si);
  }
  out.images = std::move(slot.images);
  out.labels = std::move(slot.labels);
  out.indices = std::move(slot.indices);
  slot = Slot();
  // Start copying the following batch now, so that its copy overlaps this batch's compute.
  if (staging_ && consume_next_ < batches_ && ready(consume_next_)) {
    Slot& following = slots_[size_t(consume_next_ % opts_.prefetch)];
    if (following.state == SlotState::Ready && !following.error) upload(following, int(consume_next_ % opts_.prefetch));
  }
  lock.unlock();
  cv_.notify_all();
  return true;
}

}  // namespace effnet::data
