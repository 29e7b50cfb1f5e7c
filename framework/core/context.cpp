// CPU-only stand-ins for the backend context queries.
#include "framework/core/context.h"

#ifndef EFFNET_WITH_CUDA
namespace effnet::cuda {
bool available() { return false; }
int device_count() { return 0; }
void synchronize() {}
}  // namespace effnet::cuda
#endif
