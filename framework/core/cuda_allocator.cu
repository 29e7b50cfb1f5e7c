// The caching, stream-ordered CUDA allocator behind every CUDA tensor and cuDNN workspace.
//
// Sizes are rounded (512 B granules below 1 MiB, 2 MiB granules above) and freed blocks are kept
// in a size-ordered pool. A request takes the smallest cached block that fits and wastes at most
// a quarter of it; only when none fits is cudaMalloc called. A training loop asks for the same
// sizes every step, so from the second step on every request is served from the pool.
// On cudaMalloc failure the pool is emptied and the call retried once; if it still fails the error
// says how much was asked for and what is in use.
#include <map>
#include <mutex>
#include <unordered_map>

#include "framework/core/allocator.h"
#include "framework/core/cuda_check.h"

namespace effnet::cuda {
namespace {

constexpr size_t kSmallGranule = 512;
constexpr size_t kLargeGranule = 2 << 20;
constexpr size_t kSmallLimit = 1 << 20;

size_t round_size(size_t n) {
  if (n < kSmallLimit) return (n + kSmallGranule - 1) / kSmallGranule * kSmallGranule;
  return (n + kLargeGranule - 1) / kLargeGranule * kLargeGranule;
}

class CachingAllocator {
 public:
  void* allocate(size_t nbytes) {
    if (nbytes == 0) return nullptr;
    size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    // A cached block may be larger than asked for (up to 1.25x): it is recorded and accounted at
    // its own size, so that release() returns it whole and reserved/in_use stay exact.
    size_t block = size;
    void* p = take_cached(size, &block);
    if (!p) p = device_malloc(size, nbytes);
    live_[p] = block;
    stats_.in_use += block;
    if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
    return p;
  }

  void release(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours; never free foreign pointers
    stats_.in_use -= it->second;
    pool_.emplace(it->second, p);
    live_.erase(it);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    release_pool();
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_in_use = stats_.in_use;
  }

 private:
  void* take_cached(size_t size, size_t* block) {
    auto it = pool_.lower_bound(size);
    if (it == pool_.end() || it->first > size + size / 4) return nullptr;
    void* p = it->second;
    *block = it->first;
    pool_.erase(it);
    return p;
  }

  void* device_malloc(size_t size, size_t asked) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the sticky-free error state of this failure
      release_pool();
      e = cudaMalloc(&p, size);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      EFFNET_THROW_AS(OutOfMemory, "CUDA out of memory: tried to allocate ", asked / double(1 << 20), " MiB; ",
                   stats_.str(), "; device free ", free_b / double(1 << 20), " MiB of ",
                   total_b / double(1 << 20), " MiB (", cudaGetErrorString(e), ")");
    }
    stats_.reserved += size;
    stats_.device_mallocs++;
    return p;
  }

  void release_pool() {
    for (auto& [size, p] : pool_) {
      cudaFree(p);
      stats_.reserved -= size;
      stats_.device_frees++;
    }
    pool_.clear();
  }

  std::mutex mu_;
  std::multimap<size_t, void*> pool_;       // cached blocks by size
  std::unordered_map<void*, size_t> live_;  // blocks handed out, with their block size
  MemoryStats stats_;
};

// Never destroyed: tensors may outlive static destruction order at program exit.
CachingAllocator& allocator() {
  static auto* a = new CachingAllocator();
  return *a;
}

}  // namespace

void* allocate(size_t nbytes) { return allocator().allocate(nbytes); }
void release(void* p) { allocator().release(p); }
MemoryStats memory_stats() { return allocator().stats(); }
void reset_peak_memory() { allocator().reset_peak(); }
void empty_cache() { allocator().empty_cache(); }

}  // namespace effnet::cuda
