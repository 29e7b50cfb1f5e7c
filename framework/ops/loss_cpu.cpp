// CPU kernels of the losses: one row of logits at a time, sums in double, over the shared
// formulas of loss_kernels.h and row_math.h. Labels were range-checked by loss.cpp before these
// run.
#include <cmath>
#include <limits>

#include "framework/ops/loss_kernels.h"
#include "framework/ops/row_math.h"

namespace effnet::cpu {
namespace {

template <class T>
void forward_typed(const T* x, const int64_t* labels, T* row_loss, T* lse_out, int64_t N, int64_t C, double eps) {
#pragma omp parallel for if (N * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    const T* row = x + n * C;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < C; ++c) m = max_nan(double(row[c]), m);
    double sum_exp = 0.0, sum_x = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      sum_exp += std::exp(double(row[c]) - m);
      sum_x += double(row[c]);
    }
    const double lse = log_sum_exp(m, sum_exp);
    row_loss[n] = T(cross_entropy_row_loss(lse, double(row[labels[n]]), sum_x, C, eps));
    lse_out[n] = T(lse);
  }
}

template <class T>
void backward_typed(const T* x, const int64_t* labels, const T* lse, double g, T* dx, int64_t N, int64_t C,
                    double eps) {
  const CrossEntropyGradCoeffs k = cross_entropy_grad_coeffs(g, N, C, eps);
#pragma omp parallel for if (N * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    const T* row = x + n * C;
    T* drow = dx + n * C;
    const double l = double(lse[n]);
    for (int64_t c = 0; c < C; ++c) drow[c] = T(cross_entropy_grad(k, double(row[c]), l, c == labels[n]));
  }
}

// The order of max/argmax (row_math.h's argmax_scan): first index on ties, NaN counts as the
// largest value.
template <class T>
int64_t count_typed(const T* x, const int64_t* labels, int64_t N, int64_t C) {
  int64_t correct = 0;
#pragma omp parallel for reduction(+ : correct) if (N * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    correct += argmax_scan(x + n * C, C, 1).index == labels[n] ? 1 : 0;
  }
  return correct;
}

}  // namespace

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, double eps, Tensor& row_loss, Tensor& lse) {
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using scalar_t = decltype(tag);
    forward_typed<scalar_t>(logits.data<scalar_t>(), labels.data<int64_t>(), row_loss.data<scalar_t>(),
                            lse.data<scalar_t>(), logits.size(0), logits.size(1), eps);
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& lse, const Tensor& g,
                            double eps, Tensor& dx) {
  dispatch_float(logits.dtype(), "cross_entropy backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    backward_typed<scalar_t>(logits.data<scalar_t>(), labels.data<int64_t>(), lse.data<scalar_t>(),
                             double(g.data<scalar_t>()[0]), dx.data<scalar_t>(), logits.size(0), logits.size(1), eps);
  });
}

void count_correct(const Tensor& logits, const Tensor& labels, Tensor& counters) {
  // Labels were checked by loss.cpp before this call: no bad ones to count.
  const int64_t correct = dispatch_float(logits.dtype(), "count_correct", [&](auto tag) {
    using scalar_t = decltype(tag);
    return count_typed<scalar_t>(logits.data<scalar_t>(), labels.data<int64_t>(), logits.size(0), logits.size(1));
  });
  int64_t* c = counters.data<int64_t>();
  c[0] = correct;
  c[1] = c[2] = c[3] = 0;
}

}  // namespace effnet::cpu
