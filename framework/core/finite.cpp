// NaN/Inf search (see finite.h).
#include "framework/core/finite.h"

#include <cmath>

namespace effnet {
namespace {

template <class T>
NonFinite scan(const T* p, int64_t n) {
  NonFinite r;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) {
      if (r.first < 0) {
        r.first = i;
        r.first_value = double(p[i]);
      }
      ++r.count;
    }
  return r;
}

}  // namespace

NonFinite find_non_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype())) return {};
  const Tensor host = t.detach().to(Device::cpu());  // the same tensor when already on the host
  return host.dtype() == DType::Float32 ? scan(host.data<float>(), host.numel())
                                        : scan(host.data<double>(), host.numel());
}

}  // namespace effnet
