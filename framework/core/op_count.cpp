// The op counter's bookkeeping (op_count.h): a chain of live counters per thread, innermost first;
// each op is added to every counter in the chain, so nested counters each see their own span.
#include "framework/core/op_count.h"

namespace effnet {

namespace {
thread_local OpCounter* t_innermost = nullptr;
}

OpCounter::OpCounter() : outer_(t_innermost) { t_innermost = this; }
OpCounter::~OpCounter() { t_innermost = outer_; }

void count_op(const char* name) {
  if (OpCounter* c = t_innermost) op_count_detail::record_op(c, name);
}
void count_cuda_launch() {
  if (OpCounter* c = t_innermost) op_count_detail::record_launch(c);
}

namespace op_count_detail {

void record_op(OpCounter* c, const char* name) {
  for (; c; c = c->outer_) {
    ++c->counts_.ops;
    ++c->counts_.by_name[name];
  }
}

void record_launch(OpCounter* c) {
  for (; c; c = c->outer_) ++c->counts_.cuda_launches;
}

}  // namespace op_count_detail
}  // namespace effnet
