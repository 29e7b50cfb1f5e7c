// Train/validation splits, chosen exactly as the PyTorch reference chooses them
// (../shared/anchors/torch_ssl_reference.py):
//   fine-tune: the labeled images in the reference's `lab` order, train = lab[:n - v], val = lab[n - v:]
//   retrain:   perm = RandomState(1).permutation(len(X2)); val = perm[:v], train = perm[v:]
#pragma once

#include <cstdint>
#include <vector>

namespace effnet::app {

struct Split {
  std::vector<int64_t> train, val;
};

// `val` < 1: that share of n, truncated like numpy's int(n * share); `val` >= 1: that many.
// Throws unless 0 < count < n (both parts must be non-empty).
int64_t validation_count(int64_t n, double val);

// The last `n_val` entries of `order` validate, the others train (fine-tune split).
Split split_tail(const std::vector<int64_t>& order, int64_t n_val);
// numpy RandomState(seed).permutation(n): its first `n_val` entries validate, the rest train
// (retrain split). Entries are positions 0..n-1.
Split split_permuted_head(int64_t n, int64_t n_val, uint32_t seed);

}  // namespace effnet::app
