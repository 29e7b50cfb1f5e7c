// CUDA kernel of pad2d: an element functor per output element that reads the shifted input
// element or writes 0, with the bounds of pad_kernels.h's Pad2dGeometry that the CPU copies by.
// Serves both padding (forward) and cropping (backward) through signed offsets.
#include "framework/core/cuda_launch.cuh"
#include "framework/ops/pad_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
struct Pad2d {
  const T* in;
  T* out;
  Pad2dGeometry g;
  __device__ void operator()(int64_t k) const {
    const int64_t j = k % g.wo, i = (k / g.wo) % g.ho, b = k / (g.wo * g.ho);
    const bool inside = g.row_inside(i) && j >= g.first_col() && j < g.end_col();
    out[k] = inside ? in[g.source(b, i, j)] : T(0);
  }
};

}  // namespace

void pad2d(const Tensor& in, Tensor& out, int64_t top, int64_t left) {
  dispatch_float(in.dtype(), "pad2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::for_each(out.numel(), Pad2d<scalar_t>{in.data<scalar_t>(), out.data<scalar_t>(),
                                                Pad2dGeometry::of(in, out, top, left)});
  });
}

}  // namespace effnet::cuda_ops
