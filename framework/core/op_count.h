// Counting what the framework asks of a device: every backend call that EFFNET_DISPATCH makes and
// every copy_bytes (an "op"), and on CUDA every kernel launch and cuDNN/cuBLAS compute call (a
// "launch"; one op may issue several, or none). A training step on a GPU at small images is
// bound by these, not by arithmetic, so they are what the few-launches work measures; the CPU
// counts the same ops, so the count is measured on machines without a GPU too.
//
// Counting is off unless an OpCounter is alive on the calling thread (the ops of worker threads
// such as the data loader's are not counted): then each op costs a call, a thread-local load
// and a branch. Counters nest; each sees the ops of its own lifetime.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace effnet {

struct OpCounts {
  uint64_t ops = 0;           // backend calls and byte copies
  uint64_t cuda_launches = 0; // kernels and library calls on the GPU
  std::map<std::string, uint64_t> by_name;  // ops per backend function ("conv2d_forward", "copy")
};

class OpCounter;
namespace op_count_detail {
void record_op(OpCounter* c, const char* name);
void record_launch(OpCounter* c);
}  // namespace op_count_detail

class OpCounter {
 public:
  OpCounter();
  ~OpCounter();
  OpCounter(const OpCounter&) = delete;
  OpCounter& operator=(const OpCounter&) = delete;

  const OpCounts& counts() const { return counts_; }
  void reset() { counts_ = OpCounts{}; }

 private:
  friend void op_count_detail::record_op(OpCounter*, const char*);
  friend void op_count_detail::record_launch(OpCounter*);
  OpCounts counts_;
  OpCounter* outer_;
};

// Called by EFFNET_DISPATCH and copy_bytes; out of line, so that the thread-local chain is only
// touched inside op_count.cpp (an extern thread_local read inline from every op's translation
// unit tripped UBSan's null check in the sanitizer build).
void count_op(const char* name);
// Called by the CUDA launch helpers and around library compute calls.
void count_cuda_launch();

}  // namespace effnet
