// The determinism setting, and the CPU-only stand-ins for the backend context queries.
#include "framework/core/context.h"

#include <atomic>

namespace effnet::cuda {
namespace {
std::atomic<bool> g_deterministic{true};
}
void set_deterministic_algorithms(bool on) { g_deterministic = on; }
bool deterministic_algorithms() { return g_deterministic; }
}  // namespace effnet::cuda

#ifndef EFFNET_WITH_CUDA
namespace effnet::cuda {
bool available() { return false; }
int device_count() { return 0; }
void synchronize() {}
}  // namespace effnet::cuda
#endif
