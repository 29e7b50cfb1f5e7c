// The loader's CUDA half: pinned host slots (cudaHostAlloc, allocated once), a non-blocking copy
// stream, and events. Per upload: the copy stream waits for the compute stream's queued work
// (the destination tensors come from the stream-ordered caching allocator and may reuse memory
// that work still reads), copies, and records the slot's event; the compute stream waits on that
// event when the batch is handed out; a worker refilling the slot waits on it from the host.
#include <iostream>
#include <vector>

#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/data/loader_kernels.h"

namespace effnet::data {
namespace {

// Move-only pinned host memory.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t nbytes) : nbytes_(nbytes) {
    CUDA_CHECK(cudaHostAlloc(&data_, nbytes, cudaHostAllocPortable));
  }
  ~PinnedBuffer() {
    if (data_ && cudaFreeHost(data_) != cudaSuccess) std::cerr << "effnet: cudaFreeHost failed\n";
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept : data_(o.data_), nbytes_(o.nbytes_) { o.data_ = nullptr; }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(PinnedBuffer&&) = delete;
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
};

class CudaStaging final : public DeviceStaging {
 public:
  CudaStaging(Device device, int slots, int64_t batch, const Shape& sample_shape)
      : device_(device), batch_(batch), sample_shape_(sample_shape), sample_floats_(shape_numel(sample_shape)) {
    cudaStream_t compute = cuda::stream();  // creates the context (and selects its device) first
    (void)compute;
    CUDA_CHECK(cudaSetDevice(device_.index));
    CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));
    for (int s = 0; s < slots; ++s) {
      images_.emplace_back(size_t(batch_ * sample_floats_) * sizeof(float));
      labels_.emplace_back(size_t(batch_) * sizeof(int64_t));
      cudaEvent_t e;
      CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      copied_.push_back(e);
    }
  }

  ~CudaStaging() override {
    // Copies still in flight read the pinned buffers: finish them before freeing anything.
    if (cudaStreamSynchronize(copy_stream_) != cudaSuccess) std::cerr << "effnet: loader copy stream failed\n";
    for (cudaEvent_t e : copied_) cudaEventDestroy(e);
    cudaEventDestroy(compute_ready_);
    cudaStreamDestroy(copy_stream_);
  }

  float* host_images(int slot) override { return static_cast<float*>(images_[size_t(slot)].data()); }
  int64_t* host_labels(int slot) override { return static_cast<int64_t*>(labels_[size_t(slot)].data()); }

  void wait_until_reusable(int slot) override {
    CUDA_CHECK(cudaSetDevice(device_.index));  // worker threads start on device 0
    CUDA_CHECK(cudaEventSynchronize(copied_[size_t(slot)]));
  }

  void upload(int slot, int64_t rows, Tensor& images, Tensor& labels) override {
    EFFNET_CHECK(rows > 0 && rows <= batch_, "Loader upload: ", rows, " rows for slots of ", batch_);
    Shape shape{rows};
    shape.insert(shape.end(), sample_shape_.begin(), sample_shape_.end());
    images = Tensor::empty(shape, DType::Float32, device_);
    labels = Tensor::empty({rows}, DType::Int64, device_);
    CUDA_CHECK(cudaEventRecord(compute_ready_, cuda::stream()));
    CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, compute_ready_, 0));
    CUDA_CHECK(cudaMemcpyAsync(images.raw_data(), host_images(slot), size_t(rows * sample_floats_) * sizeof(float),
                               cudaMemcpyHostToDevice, copy_stream_));
    CUDA_CHECK(cudaMemcpyAsync(labels.raw_data(), host_labels(slot), size_t(rows) * sizeof(int64_t),
                               cudaMemcpyHostToDevice, copy_stream_));
    CUDA_CHECK(cudaEventRecord(copied_[size_t(slot)], copy_stream_));
  }

  void compute_waits_for(int slot) override {
    CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), copied_[size_t(slot)], 0));
  }

 private:
  Device device_;
  int64_t batch_;
  Shape sample_shape_;
  int64_t sample_floats_;
  cudaStream_t copy_stream_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;
  std::vector<PinnedBuffer> images_, labels_;
  std::vector<cudaEvent_t> copied_;
};

}  // namespace

namespace cuda_ops {
std::unique_ptr<DeviceStaging> make_device_staging(Device device, int slots, int64_t batch, const Shape& sample_shape) {
  return std::make_unique<CudaStaging>(device, slots, batch, sample_shape);
}
}  // namespace cuda_ops

}  // namespace effnet::data
