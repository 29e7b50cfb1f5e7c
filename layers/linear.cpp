// Linear layer (see linear.h).
#include "layers/linear.h"

#include <cmath>

#include "framework/ops/matmul.h"
#include "layers/init.h"

namespace effnet::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator& gen)
    : in_(in_features), out_(out_features) {
  EFFNET_CHECK(in_features > 0 && out_features > 0, "Linear: bad sizes ", in_features, " -> ", out_features);
  weight = register_parameter("weight", init::uniform({out_features, in_features}, 1.0 / std::sqrt(double(out_features)), gen));
  if (with_bias) bias = register_parameter("bias", zeros({out_features}));
}

namespace {
void replace_contents(Tensor& dst, const Tensor& src) {
  TensorImpl& d = dst.impl();
  d.storage = src.impl().storage;
  d.offset = src.impl().offset;
  d.shape = src.shape();
  d.grad.reset();
}
}  // namespace

void Linear::reset(int64_t out_features, Generator& gen) {
  EFFNET_CHECK(out_features > 0, "Linear::reset: bad size ", out_features);
  Device d = weight.device();
  out_ = out_features;
  replace_contents(weight, init::uniform({out_, in_}, 1.0 / std::sqrt(double(out_)), gen).to(d));
  if (bias.defined()) replace_contents(bias, zeros({out_}, DType::Float32, d));
}

Tensor Linear::forward(const Tensor& x) {
  EFFNET_CHECK(x.dim() == 2 && x.size(1) == in_, "Linear(", in_, "->", out_, "): expected (N, ", in_, "), got ",
               x.str());
  return linear(x, weight, bias);
}

}  // namespace effnet::nn
