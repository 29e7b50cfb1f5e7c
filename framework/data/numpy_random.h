// numpy's legacy RandomState (MT19937) just far enough to reproduce `permutation` and `shuffle`
// bit for bit, so that data splits chosen by a PyTorch/numpy reference script (for example the
// Fashion-MNIST labeled split drawn with RandomState(0)) can be chosen identically here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace effnet::data {

class NumpyRandomState {
 public:
  // np.random.RandomState(seed) for an integer seed in [0, 2^32).
  explicit NumpyRandomState(uint32_t seed);

  uint32_t next_uint32();  // one MT19937 output (genrand_int32)
  uint64_t next_uint64();  // two outputs, first in the high half, as numpy's legacy generator
  // numpy's random_interval: uniform in [0, max] by masked rejection sampling.
  uint64_t interval(uint64_t max);

  // rng.shuffle(x) for a 1-D array: Fisher-Yates from the last element down.
  template <class T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) {
      size_t j = size_t(interval(uint64_t(i)));
      std::swap(x[i], x[j]);
    }
  }
  // rng.permutation(n) and rng.permutation(array): a shuffled copy.
  std::vector<int64_t> permutation(int64_t n);
  template <class T>
  std::vector<T> permutation(std::vector<T> x) {
    shuffle(x);
    return x;
  }

 private:
  void refill();
  uint32_t key_[624];
  int pos_ = 624;
};

}  // namespace effnet::data
