// Host allocation (with a cache of large blocks) and the CPU-only stand-ins for the CUDA allocator
// entry points.
#include "framework/core/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "framework/core/error.h"

namespace effnet {

// Host blocks of 256 KiB and more are cached: a training step frees and requests the same sizes
// every iteration, and handing those back to the C library means fresh pages from the kernel
// (page faults and zeroing) on the next step. Freed large blocks go to per-size free lists
// instead, up to a limit; beyond it they are really freed. The limit is the larger of 1 GiB and
// twice the peak of large blocks in use so far. A loop over big inputs needs more than its peak:
// a step frees blocks of many sizes, and the cache must hold each size until the next step asks
// for it again, while the blocks in use at any moment are only some of them. With a fixed 1 GiB,
// B3 inference at 224x224 batch 32 (1.6 GiB in use at its peak) ran at 16 img/s on 2 cores,
// spending its time in page faults; with the peak as the limit at 17; with twice the peak at 24,
// its resident memory rising from 1.6 to 2.0 GiB (docs/cpu-performance.md). Sizes are rounded up
// to 1/8 of a power of two, so a reused block wastes at most 12.5%. Every block carries a 64-byte header with its rounded size, which
// keeps the payload 64-byte aligned and tells cpu_free() whether to cache it.
namespace {

constexpr size_t kHeader = 64;
constexpr size_t kMinCached = size_t(256) << 10;
constexpr size_t kMinCacheLimit = size_t(1) << 30;

size_t round_size(size_t nbytes) {
  size_t n = (nbytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
  if (n < kMinCached) return n;
  size_t step = size_t(1) << (63 - __builtin_clzll(n));  // the power of two at or below n
  step = std::max<size_t>(step / 8, 64);
  return (n + step - 1) / step * step;
}

struct HostCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // rounded size -> raw blocks
  size_t cached = 0;
  size_t in_use = 0, peak_in_use = 0;  // large blocks handed out (rounded sizes)
  size_t limit() const { return std::max(kMinCacheLimit, 2 * peak_in_use); }  // see above
};
HostCache& host_cache() {
  static HostCache* cache = new HostCache;  // never destroyed: tensors may be freed during exit
  return *cache;
}

// Gives every cached block back to the C library; returns the bytes released.
size_t release_cached_blocks() {
  HostCache& c = host_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* raw : blocks) std::free(raw);
  c.free_blocks.clear();
  const size_t released = c.cached;
  c.cached = 0;
  return released;
}

}  // namespace

void* cpu_allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_size(nbytes);
  void* raw = nullptr;
  if (size >= kMinCached) {
    HostCache& c = host_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      raw = it->second.back();
      it->second.pop_back();
      c.cached -= size;
    }
  }
  if (!raw) raw = std::aligned_alloc(64, kHeader + size);
  // Blocks of other sizes sitting in the cache may be what the request is missing.
  if (!raw && release_cached_blocks() > 0) raw = std::aligned_alloc(64, kHeader + size);
  if (!raw) EFFNET_THROW_AS(OutOfMemory, "out of host memory: tried to allocate ", (nbytes + (size_t(1) << 20) - 1) >> 20, " MiB");
  if (size >= kMinCached) {
    HostCache& c = host_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.in_use += size;
    c.peak_in_use = std::max(c.peak_in_use, c.in_use);
  }
  *static_cast<size_t*>(raw) = size;
  return static_cast<char*>(raw) + kHeader;
}

void cpu_free(void* p) {
  if (!p) return;
  void* raw = static_cast<char*>(p) - kHeader;
  const size_t size = *static_cast<size_t*>(raw);
  if (size >= kMinCached) {
    HostCache& c = host_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.in_use -= size;
    if (c.cached + size <= c.limit()) {
      c.free_blocks[size].push_back(raw);
      c.cached += size;
      return;
    }
  }
  std::free(raw);
}

size_t cpu_cached_bytes() {
  HostCache& c = host_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.cached;
}

std::string MemoryStats::str() const {
  std::ostringstream os;
  auto mib = [](size_t b) { return double(b) / (1024.0 * 1024.0); };
  os.precision(1);
  os << std::fixed << "in use " << mib(in_use) << " MiB, peak " << mib(peak_in_use) << " MiB, reserved "
     << mib(reserved) << " MiB, cudaMalloc calls " << device_mallocs << ", cudaFree calls " << device_frees;
  return os.str();
}

#ifndef EFFNET_WITH_CUDA
namespace cuda {
void* allocate(size_t) { EFFNET_THROW("CUDA tensor requested but effnet was built without CUDA"); }
void release(void*) {}
MemoryStats memory_stats() { return {}; }
void reset_peak_memory() {}
void empty_cache() {}
}  // namespace cuda
#endif

}  // namespace effnet
