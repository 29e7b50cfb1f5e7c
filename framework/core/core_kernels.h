// The few device kernels the core needs (fill, dtype conversion, arange, random draws, and the
// in-place arithmetic the autograd engine sums gradients with). The CPU versions live in
// creation.cpp / tensor.cpp; the CUDA versions in core_kernels_cuda.cu.
#pragma once

#include <cstdint>

#include "framework/core/dtype.h"

namespace effnet::cuda_kernels {
void fill(void* dst, DType dtype, int64_t n, double value);
void convert(void* dst, DType dst_type, const void* src, DType src_type, int64_t n);
void arange(void* dst, DType dtype, int64_t n);
void uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double low, double high);
void normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double mean, double std);
void randint(int64_t* dst, int64_t n, uint64_t seed, uint64_t offset, int64_t low, int64_t high);
// out = y + alpha * x (floating dtypes; out may be y).
void axpy(void* out, const void* y, const void* x, DType dtype, int64_t n, double alpha);
// y *= factor (floating dtypes).
void scale(void* y, DType dtype, int64_t n, double factor);
}  // namespace effnet::cuda_kernels
