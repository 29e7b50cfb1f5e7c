// The CPU backend's instruction-set level (cpu_parallel.h): detected once, capped by
// EFFNET_CPU_ISA or set_cpu_isa_limit() so that each kernel copy can be tested on one machine.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "framework/core/cpu_parallel.h"
#include "framework/core/error.h"

namespace effnet::cpu {
namespace {

CpuIsa parse_isa(const std::string& s) {
  if (s == "baseline" || s == "sse2") return CpuIsa::Baseline;
  if (s == "avx2") return CpuIsa::Avx2;
  if (s == "avx512") return CpuIsa::Avx512;
  EFFNET_THROW("EFFNET_CPU_ISA='", s, "': expected baseline, avx2 or avx512");
}

CpuIsa initial_limit() {
  const char* env = std::getenv("EFFNET_CPU_ISA");
  return env && *env ? parse_isa(env) : CpuIsa::Avx512;
}

std::atomic<int>& limit() {
  static std::atomic<int> l{int(initial_limit())};
  return l;
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Baseline: break;
  }
  return "baseline";
}

CpuIsa cpu_isa_detected() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const CpuIsa detected = [] {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
      return CpuIsa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::Avx2;
    return CpuIsa::Baseline;
  }();
  return detected;
#else
  return CpuIsa::Baseline;
#endif
}

CpuIsa cpu_isa() {
  static const CpuIsa detected = cpu_isa_detected();
  const int l = limit().load(std::memory_order_relaxed);
  return CpuIsa(std::min(int(detected), l));
}

CpuIsa set_cpu_isa_limit(CpuIsa l) { return CpuIsa(limit().exchange(int(l))); }

}  // namespace effnet::cpu
