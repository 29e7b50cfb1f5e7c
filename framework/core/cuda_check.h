// Checked CUDA, cuBLAS and cuDNN calls: each failure throws effnet::Error with file:line, the
// call's text and the library's own message. Only included by CUDA translation units.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "framework/core/error.h"

namespace effnet::cuda {
inline const char* error_string(cudaError_t e) { return cudaGetErrorString(e); }
inline const char* error_string(cudnnStatus_t e) { return cudnnGetErrorString(e); }
inline const char* error_string(cublasStatus_t e) { return cublasGetStatusString(e); }
inline bool ok(cudaError_t e) { return e == cudaSuccess; }
inline bool ok(cudnnStatus_t e) { return e == CUDNN_STATUS_SUCCESS; }
inline bool ok(cublasStatus_t e) { return e == CUBLAS_STATUS_SUCCESS; }
}  // namespace effnet::cuda

// One generic macro for the three libraries.
#define EFFNET_CUDA_CALL(expr)                                                               \
  do {                                                                                       \
    auto _status = (expr);                                                                   \
    if (!::effnet::cuda::ok(_status))                                                        \
      EFFNET_THROW(#expr, " failed: ", ::effnet::cuda::error_string(_status));               \
  } while (0)

#define CUDA_CHECK(expr) EFFNET_CUDA_CALL(expr)
#define CUBLAS_CHECK(expr) EFFNET_CUDA_CALL(expr)
#define CUDNN_CHECK(expr) EFFNET_CUDA_CALL(expr)

// After every kernel launch: catches bad launch configurations at the launch site.
#define CUDA_CHECK_LAUNCH() EFFNET_CUDA_CALL(cudaGetLastError())
