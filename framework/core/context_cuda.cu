// The CUDA backend context: one non-blocking compute stream with cuBLAS and cuDNN handles bound
// to it, created on first use and kept for the life of the process.
#include <mutex>

#include "framework/core/context.h"
#include "framework/core/cuda_check.h"

namespace effnet::cuda {
namespace {

struct Context {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;

  Context() {
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&cublas));
    CUBLAS_CHECK(cublasSetStream(cublas, stream));
    // Keep float32 GEMMs in full float32: the CPU oracle comparisons and gradient parity
    // with PyTorch (which defaults to no TF32 for matmul) rely on it.
    CUBLAS_CHECK(cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH));
    CUDNN_CHECK(cudnnCreate(&cudnn));
    CUDNN_CHECK(cudnnSetStream(cudnn, stream));
  }
};

Context& context() {
  static Context* ctx = [] {
    if (!available()) EFFNET_THROW("CUDA requested but no GPU is visible");
    return new Context();  // never destroyed: handles must outlive every tensor
  }();
  return *ctx;
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

bool available() {
  static const bool yes = device_count() > 0;
  return yes;
}

void synchronize() {
  if (available()) CUDA_CHECK(cudaStreamSynchronize(stream()));
}

cudaStream_t stream() { return context().stream; }
cublasHandle_t cublas() { return context().cublas; }
cudnnHandle_t cudnn() { return context().cudnn; }

}  // namespace effnet::cuda
