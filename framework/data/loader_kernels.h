// The CUDA half of the loader (loader_cuda.cu): pinned host slots that workers fill, a copy
// stream, and the events that order copies against the compute stream. Only built with CUDA;
// loader.cpp reaches it through EFFNET_CUDA_ONLY.
#pragma once

#include <cstdint>
#include <memory>

#include "framework/core/tensor.h"

namespace effnet::data {

class DeviceStaging {
 public:
  virtual ~DeviceStaging() = default;
  // Pinned host memory of one slot: batch x (3*H*W) floats and batch labels.
  virtual float* host_images(int slot) = 0;
  virtual int64_t* host_labels(int slot) = 0;
  // Blocks (any thread) until the last copy out of this slot has finished, so it can be refilled.
  virtual void wait_until_reusable(int slot) = 0;
  // Consumer thread: new device tensors for `rows` rows and async copies into them from the slot.
  // The copy starts after all compute-stream work queued so far (the new tensors' memory may
  // have been freed by that work) and runs on the copy stream.
  virtual void upload(int slot, int64_t rows, Tensor& images, Tensor& labels) = 0;
  // Consumer thread: later compute-stream work waits for the slot's last upload.
  virtual void compute_waits_for(int slot) = 0;
};

namespace cuda_ops {
std::unique_ptr<DeviceStaging> make_device_staging(Device device, int slots, int64_t batch, const Shape& sample_shape);
}  // namespace cuda_ops

}  // namespace effnet::data
