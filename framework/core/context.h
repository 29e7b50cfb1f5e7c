// The backend context: whether a GPU is usable, and (CUDA builds) the one compute stream and the
// cuBLAS and cuDNN handles bound to it. Layers never create handles of their own.
#pragma once

namespace effnet::cuda {

// True when this build has CUDA and a GPU is visible. Never throws: tests use it to skip.
bool available();
int device_count();
// Waits until all queued GPU work is done (no-op without CUDA).
void synchronize();

// Whether the GPU may only use algorithms that give the same bits on every run (on by default,
// PyTorch's use_deterministic_algorithms, which resuming a run bit-identically relies on): cuDNN
// convolution algorithms are then chosen among those cuDNN marks deterministic (its atomics-based
// backward algorithms are passed over). Turn off for speed (`--nondeterministic`). The CPU
// backend is deterministic either way.
void set_deterministic_algorithms(bool on);
bool deterministic_algorithms();

}  // namespace effnet::cuda

#ifdef EFFNET_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace effnet::cuda {
cudaStream_t stream();
cublasHandle_t cublas();
cudnnHandle_t cudnn();
// Blocks of 256 threads covering n elements, capped so a grid-stride loop covers the rest.
inline unsigned grid_for(long long n, int threads = 256) {
  long long blocks = (n + threads - 1) / threads;
  if (blocks > 65535LL * 8) blocks = 65535LL * 8;
  return blocks < 1 ? 1u : unsigned(blocks);
}
}  // namespace effnet::cuda
#endif
