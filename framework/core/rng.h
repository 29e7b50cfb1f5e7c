// Seeded random-number generator state. A Generator is (seed, offset): each draw of n numbers
// takes counters [offset, offset + n) and advances the offset, so a sequence of draws is
// reproducible from the seed alone and identical on CPU and GPU.
#pragma once

#include <cstdint>

namespace effnet {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Reserves n counters and returns the first.
  uint64_t take(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide generator used when none is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace effnet
