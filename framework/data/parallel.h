// A parallel loop on a few std::threads for file work (decoding, encoding) where OpenMP's
// exception rules get in the way: the first exception thrown by any iteration stops the loop and
// is re-thrown to the caller.
#pragma once

#include <cstdint>
#include <functional>

namespace effnet::data {

// Calls fn(i) for i in [0, n) on up to `threads` threads (the caller's included).
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn);

// A sensible thread count for file work: min(requested, hardware threads), at least 1;
// requested <= 0 means all hardware threads.
int file_threads(int requested);

}  // namespace effnet::data
