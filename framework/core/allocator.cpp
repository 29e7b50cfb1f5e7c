// Host allocation and the CPU-only stand-ins for the CUDA allocator entry points.
#include "framework/core/allocator.h"

#include <cstdlib>
#include <new>
#include <sstream>

#include "framework/core/error.h"

namespace effnet {

void* cpu_allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  size_t rounded = (nbytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
  void* p = std::aligned_alloc(64, rounded);
  if (!p) EFFNET_THROW("out of host memory: tried to allocate ", nbytes, " bytes");
  return p;
}

void cpu_free(void* p) { std::free(p); }

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
