// Batches for training and evaluation: images float32 (B, 3, H, W) transformed and normalised,
// labels int64 (B) (-1 for unlabelled samples), from a Dataset and a list of its indices.
// Worker threads prepare batches ahead of the consumer (at most `prefetch` ahead, in order).
// For a CUDA device the workers fill pinned host buffers (allocated once, reused) and the
// consumer's next() issues cudaMemcpyAsync on a copy stream; the compute stream waits on an
// event, so neither the host nor the GPU blocks on the copy in steady state, and the copy of the
// following batch overlaps the current step.
// Deterministic: the sample order of an epoch comes from (seed, epoch), and each sample's
// augmentation from (seed, epoch, dataset index), whatever the number of workers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/data/dataset.h"
#include "framework/data/transforms.h"

namespace effnet::data {

// What becomes of an epoch's last, smaller batch.
enum class LastBatch {
  keep,          // it ends the epoch (evaluation: every image once)
  drop,          // only full batches
  drop_if_full,  // dropped when at least one full batch exists, else kept (training: the reference
                 // drops it, yet a set smaller than one batch still trains)
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  LastBatch last_batch = LastBatch::keep;
  uint64_t seed = 0;
  int workers = 2;         // preparing threads
  int prefetch = 3;        // batches prepared ahead of the consumer
  Transform transform;
  Device device = Device::cpu();
  // Data parallelism: this loader is rank `rank` of `world`. Each batch of an epoch is then one
  // global batch of world * batch_size samples of the (same on every rank) epoch order, of which
  // rank r takes rows [r * batch_size, (r + 1) * batch_size); world > 1 needs full batches only
  // (LastBatch::drop, or drop_if_full with one full batch at least), so every rank gets as many
  // batches of the same size and the ranks step together.
  int rank = 0, world = 1;
  // A fixed share of two groups per batch (semi-supervised retraining: labeled and pseudo-labeled
  // images). With first_group_share in (0, 1), the dataset indices below first_group_end form the
  // first group and the others the second; every global batch holds round(share * global batch) of
  // the first, drawn from its reshuffled passes (a small labeled set is oversampled), and the rest
  // from one pass over the second, whose size sets the epoch's length. 0: one shuffle of all.
  int64_t first_group_end = 0;
  double first_group_share = 0;
};

struct Batch {
  Tensor images;                 // float32 (B, 3, H, W) on the loader's device
  Tensor labels;                 // int64 (B)
  std::vector<int64_t> indices;  // the dataset index of each row
};

class DeviceStaging;  // pinned buffers + copy stream (CUDA builds, loader_kernels.h)

class Loader {
 public:
  // `ds` must outlive the loader. Every image must transform to the same size (set
  // transform.height/width when the images differ).
  Loader(const Dataset& ds, std::vector<int64_t> indices, LoaderOptions opts);
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  ~Loader();  // stops and joins the workers

  int64_t batches_per_epoch() const { return batches_; }
  int64_t samples_per_epoch() const;
  // Rows of each global batch from the first group (0 without a group share).
  int64_t first_group_rows() const { return per_first_; }
  const LoaderOptions& options() const { return opts_; }

  // The order in which an epoch visits the indices (before a dropped last batch is cut); with a group
  // share, batch after batch of the mixed draw, each global batch's rows shuffled among themselves.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Starts an epoch (any epoch number, any time; the rest of the current one is dropped).
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch, or false after its last. An exception thrown while
  // preparing a batch is re-thrown here, when that batch is due.
  bool next(Batch& out);

 private:
  // Free -> Filling (a worker) -> Ready -> [Uploaded: CUDA copy issued] -> Free (handed out).
  enum class SlotState { Free, Filling, Ready, Uploaded };
  struct Slot {
    SlotState state = SlotState::Free;
    int64_t batch = -1;
    std::vector<int64_t> indices;
    Tensor images, labels;  // the finished batch (CPU), or its device copy once Uploaded
    std::exception_ptr error;
  };

  std::vector<int64_t> mixed_order(int64_t epoch) const;  // epoch_order with a group share
  void worker_loop();
  void fill(Slot& slot, int slot_index, int64_t epoch);
  void upload(Slot& slot, int slot_index);  // CUDA: called with the lock held
  bool ready(int64_t batch) const;          // called with the lock held

  const Dataset& ds_;
  std::vector<int64_t> indices_;
  LoaderOptions opts_;
  std::vector<int64_t> first_, second_;  // the two groups of indices_ (group share only)
  int64_t per_first_ = 0;                // rows of the first group per global batch (0: no groups)
  int64_t batches_ = 0, out_h_ = 0, out_w_ = 0;
  bool drop_last_ = false;  // opts_.last_batch resolved for this index list

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, started_ = false;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
  int64_t produce_next_ = 0, consume_next_ = 0;
  int filling_ = 0;
  std::vector<Slot> slots_;
  std::unique_ptr<DeviceStaging> staging_;
  std::vector<std::thread> workers_;
};

}  // namespace effnet::data
