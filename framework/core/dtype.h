// Element types and devices. float32 is the working type everywhere; float64 exists on the CPU
// for gradient checks; int64 holds labels and indices. Room is left for bf16/fp16.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "framework/core/error.h"

namespace effnet {

enum class DType : uint8_t { Float32, Float64, Int64 /* reserved: BFloat16, Float16 */ };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  // "cpu", "cuda", "cuda:0"; throws on anything else, with its own message for cuda:N, N > 0
  // (one GPU per process: CUDA_VISIBLE_DEVICES chooses it).
  static Device parse(const std::string& s);
};

// Calls f(T{}) with T the C++ type of a floating dtype; the one place float/double kernels fan
// out. Use: dispatch_float(x.dtype(), "op", [&](auto tag) { using scalar_t = decltype(tag); ... });
template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: break;
  }
  EFFNET_THROW(op, ": expected a floating dtype, got ", dtype_name(dtype));
}

// Calls f(T{}) with T the C++ type of any dtype, int64 included (fill, conversion, arange).
template <class F>
decltype(auto) dispatch_any(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
  }
  EFFNET_THROW("unknown dtype ", int(dtype));
}

// Calls f(A{}, B{}) with A and B the C++ types of two dtypes, any pair of them (conversion).
template <class F>
void dispatch_any_pair(DType a, DType b, F&& f) {
  dispatch_any(a, [&](auto a_tag) { dispatch_any(b, [&](auto b_tag) { f(a_tag, b_tag); }); });
}

}  // namespace effnet
