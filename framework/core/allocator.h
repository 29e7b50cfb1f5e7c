// Memory for tensor storage. CPU: 64-byte aligned host memory. CUDA: a caching, stream-ordered
// allocator (cuda_allocator.cu) so that after the first training step no cudaMalloc/cudaFree
// runs: freed blocks go back to a pool and are handed out again for the next request of a
// similar size. All kernels run on the context's one compute stream, so a block freed on the host
// can be reused at once: any later kernel that writes it is ordered after the earlier readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace effnet {

void* cpu_allocate(size_t nbytes);
void cpu_free(void* p);
// Bytes of freed large host blocks kept for reuse (allocator.cpp says which and how many).
size_t cpu_cached_bytes();

struct MemoryStats {
  size_t in_use = 0;         // bytes held by live tensors (rounded block sizes)
  size_t peak_in_use = 0;    // high-water mark of in_use since the last reset_peak()
  size_t reserved = 0;       // bytes obtained from cudaMalloc and not yet returned (in use + cached)
  uint64_t device_mallocs = 0;  // number of cudaMalloc calls so far
  uint64_t device_frees = 0;    // number of cudaFree calls so far
  std::string str() const;
};

namespace cuda {
// These exist in every build; without CUDA they throw (allocate) or return zeros (stats).
void* allocate(size_t nbytes);
void release(void* p);
MemoryStats memory_stats();
void reset_peak_memory();
void empty_cache();  // returns every cached block to the driver
}  // namespace cuda

}  // namespace effnet
