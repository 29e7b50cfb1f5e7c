// MT19937 as seeded by numpy's legacy RandomState (init_genrand), and numpy's bounded draws.
#include "framework/data/numpy_random.h"

#include "framework/core/error.h"

namespace effnet::data {

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  for (int i = 0; i < 624; ++i) {
    key_[i] = seed;
    seed = 1812433253u * (seed ^ (seed >> 30)) + uint32_t(i + 1);
  }
  pos_ = 624;
}

void NumpyRandomState::refill() {
  constexpr uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
  for (int i = 0; i < 624; ++i) {
    uint32_t y = (key_[i] & upper) | (key_[(i + 1) % 624] & lower);
    key_[i] = key_[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
  }
  pos_ = 0;
}

uint32_t NumpyRandomState::next_uint32() {
  if (pos_ == 624) refill();
  uint32_t y = key_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t NumpyRandomState::next_uint64() {
  uint64_t hi = next_uint32();
  return (hi << 32) | next_uint32();
}

uint64_t NumpyRandomState::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t value;
  if (max <= 0xffffffffull) {
    while ((value = (next_uint32() & mask)) > max) {
    }
  } else {
    while ((value = (next_uint64() & mask)) > max) {
    }
  }
  return value;
}

std::vector<int64_t> NumpyRandomState::permutation(int64_t n) {
  EFFNET_CHECK(n >= 0, "NumpyRandomState::permutation: negative length ", n);
  std::vector<int64_t> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = i;
  shuffle(x);
  return x;
}

}  // namespace effnet::data
