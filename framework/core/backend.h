// How ops reach their two backend halves. A family declares its backend functions once, as a
// list expanded in namespace cpu and in namespace cuda_ops (EFFNET_DECLARE_BACKENDS), and calls
// them through EFFNET_DISPATCH, which picks the half by device. A CPU-only build compiles no CUDA
// half, so there the CUDA branch is never named (nothing refers to a function that has no
// definition) and throws instead: op files carry no #ifdefs. Inside a half, dispatch_enum turns a
// family's runtime op into a template argument.
#pragma once

#include <type_traits>

#include "framework/core/error.h"
#include "framework/core/op_count.h"

namespace effnet::backend {

// The CUDA branch of EFFNET_DISPATCH in a build without CUDA. It has the CPU call's type, so that
// both branches of the conditional agree whether the backend returns a value or void.
template <class R>
[[noreturn]] R no_cuda(const char* fn) {
  EFFNET_THROW(fn, ": this effnet build has no CUDA backend");
}

}  // namespace effnet::backend

namespace effnet {

// Calls f(std::integral_constant<E, v>{}) for the v among Values that equals e, so that a backend
// turns a family's runtime op into a template argument in one place: the family lists its ops
// once, dispatch_enum<Op::A, Op::B>(op, f). A value missing from the list throws.
template <auto... Values, class E, class F>
void dispatch_enum(E e, F&& f) {
  static_assert((std::is_same_v<decltype(Values), E> && ...), "dispatch_enum: values of another type");
  const bool found = ((e == Values && (f(std::integral_constant<E, Values>{}), true)) || ...);
  EFFNET_CHECK(found, "dispatch_enum: value ", int(e), " is not in the list");
}

}  // namespace effnet

// EFFNET_DISPATCH(where, fn, args...): cuda_ops::fn(args...) when `where` (a Tensor or a Device)
// is on the GPU, else cpu::fn(args...), as an expression of the backend's return type (or void).
// Only the call that runs evaluates the arguments. Each call counts as one op (op_count.h).
#ifdef EFFNET_WITH_CUDA
#define EFFNET_DISPATCH(where, fn, ...) \
  (::effnet::count_op(#fn),             \
   (where).is_cuda() ? ::effnet::cuda_ops::fn(__VA_ARGS__) : ::effnet::cpu::fn(__VA_ARGS__))
#else
#define EFFNET_DISPATCH(where, fn, ...)                                                           \
  (::effnet::count_op(#fn),                                                                       \
   (where).is_cuda() ? ::effnet::backend::no_cuda<decltype(::effnet::cpu::fn(__VA_ARGS__))>(#fn) \
                     : ::effnet::cpu::fn(__VA_ARGS__))
#endif

// The signature list of a family, written once: LIST(X) applies X(return type, name, (parameters))
// to each backend function, and EFFNET_DECLARE_BACKENDS(LIST), used inside namespace effnet,
// declares them all in namespace cpu and again in namespace cuda_ops, so the two halves cannot
// disagree on a signature.
#define EFFNET_DECLARE_BACKEND_FUNCTION(ret, name, params) ret name params;
#define EFFNET_DECLARE_BACKENDS(LIST)               \
  namespace cpu {                                   \
  LIST(EFFNET_DECLARE_BACKEND_FUNCTION)             \
  }                                                 \
  namespace cuda_ops {                              \
  LIST(EFFNET_DECLARE_BACKEND_FUNCTION)             \
  }

// A call that exists only on the CUDA side (no CPU half: the loader's pinned staging, the GPU's
// deferred label check). In a CPU-only build it compiles to the same error as above.
#ifdef EFFNET_WITH_CUDA
#define EFFNET_CUDA_ONLY(...) __VA_ARGS__
#else
#define EFFNET_CUDA_ONLY(...) EFFNET_THROW("this effnet build has no CUDA backend")
#endif

// Checks that two tensors live on one device (throws, naming op and both tensors, if not).
#define EFFNET_SAME_DEVICE(op, a, b)                                                          \
  EFFNET_CHECK((a).device() == (b).device(), op, ": tensors on different devices: ",          \
               (a).str(), " and ", (b).str())
