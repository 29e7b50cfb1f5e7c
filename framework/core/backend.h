// Dispatch helpers shared by every op: pick the CPU or CUDA half. In a CPU-only build the CUDA
// branch compiles to an error, so op files never need #ifdefs of their own.
#pragma once

#include "framework/core/error.h"

#ifdef EFFNET_WITH_CUDA
#define EFFNET_CUDA_ONLY(...) __VA_ARGS__
#else
#define EFFNET_CUDA_ONLY(...) EFFNET_THROW("this effnet build has no CUDA backend")
#endif

// Checks that all tensors live on one device and returns it.
#define EFFNET_SAME_DEVICE(op, a, b)                                                          \
  EFFNET_CHECK((a).device() == (b).device(), op, ": tensors on different devices: ",          \
               (a).str(), " and ", (b).str())
