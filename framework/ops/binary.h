// Element-wise arithmetic with broadcasting: add, sub, mul, div (tensor-tensor and tensor-scalar),
// neg, and broadcast_to. All differentiable; the gradient of a broadcast input is summed back to
// its shape (sum_to, reduce.h).
#pragma once

#include "framework/core/tensor.h"

namespace effnet {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// out = x * scale + shift: the one kernel behind every tensor-scalar form.
Tensor affine(const Tensor& x, double scale, double shift);
inline Tensor add(const Tensor& a, double s) { return affine(a, 1.0, s); }
inline Tensor sub(const Tensor& a, double s) { return affine(a, 1.0, -s); }
inline Tensor mul(const Tensor& a, double s) { return affine(a, s, 0.0); }
inline Tensor div(const Tensor& a, double s) { return affine(a, 1.0 / s, 0.0); }
inline Tensor neg(const Tensor& a) { return affine(a, -1.0, 0.0); }
inline Tensor rsub(double s, const Tensor& a) { return affine(a, -1.0, s); }  // s - a

// Copies x stretched to `shape` (x's shape must broadcast to it).
Tensor broadcast_to(const Tensor& x, const Shape& shape);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace effnet
