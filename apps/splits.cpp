// Train/validation splits (see splits.h).
#include "apps/splits.h"

#include "framework/core/error.h"
#include "framework/data/numpy_random.h"

namespace effnet::app {

int64_t validation_count(int64_t n, double val) {
  EFFNET_CHECK(val > 0, "validation share must be positive, got ", val);
  const int64_t count = val < 1.0 ? int64_t(double(n) * val) : int64_t(val);
  EFFNET_CHECK(count > 0 && count < n, "a validation ", val < 1.0 ? "share" : "count", " of ", val, " leaves ",
               count, " of ", n, " images for validation; both training and validation need some");
  return count;
}

Split split_tail(const std::vector<int64_t>& order, int64_t n_val) {
  const int64_t n = int64_t(order.size());
  EFFNET_CHECK(n_val > 0 && n_val < n, "split: ", n_val, " validation images out of ", n);
  Split s;
  s.train.assign(order.begin(), order.end() - n_val);
  s.val.assign(order.end() - n_val, order.end());
  return s;
}

Split split_permuted_head(int64_t n, int64_t n_val, uint32_t seed) {
  EFFNET_CHECK(n_val > 0 && n_val < n, "split: ", n_val, " validation images out of ", n);
  std::vector<int64_t> perm = data::NumpyRandomState(seed).permutation(n);
  Split s;
  s.val.assign(perm.begin(), perm.begin() + n_val);
  s.train.assign(perm.begin() + n_val, perm.end());
  return s;
}

}  // namespace effnet::app
