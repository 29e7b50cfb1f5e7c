// The op counter's bookkeeping (op_count.h): a chain of live counters per thread, innermost first;
// each op is added to every counter in the chain, so nested counters each see their own span.
#include "framework/core/op_count.h"

namespace effnet {

namespace op_count_detail {
thread_local OpCounter* t_innermost = nullptr;
}

OpCounter::OpCounter() : outer_(op_count_detail::t_innermost) { op_count_detail::t_innermost = this; }
OpCounter::~OpCounter() { op_count_detail::t_innermost = outer_; }

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
