// Central-difference gradient checking in float64 (see gradient_checker.h).
#include "tests/testing/gradient_checker.h"

#include <cmath>
#include <sstream>

namespace effnet::testing {

Tensor grad_input(const Shape& shape, double low, double high, uint64_t seed) {
  Generator gen(seed);
  return uniform(shape, low, high, gen, DType::Float64).set_requires_grad(true);
}

namespace {
double projected_loss(const TensorFn& f, const std::vector<Tensor>& inputs, const Tensor& w) {
  NoGradGuard no_grad;
  Tensor out = f(inputs);
  const double* po = out.data<double>();
  const double* pw = w.data<double>();
  double s = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) s += po[i] * pw[i];
  return s;
}
}  // namespace

::testing::AssertionResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                                     const GradCheckOptions& opts) {
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad())
      if (x.dtype() != DType::Float64 || x.is_cuda())
        return ::testing::AssertionFailure() << "gradcheck needs float64 CPU inputs, got " << x.str();

  // Analytic gradients through backward().
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) x.set_grad(Tensor());
  Tensor out = f(inputs);
  if (out.dtype() != DType::Float64) return ::testing::AssertionFailure() << "output is not float64: " << out.str();
  Generator gen(opts.seed);
  Tensor w = uniform(out.shape(), -1.0, 1.0, gen, DType::Float64);
  Tensor loss = sum(mul(out, w));
  loss.backward();

  std::ostringstream failures;
  int n_fail = 0, n_checked = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor g = x.grad();
    if (!g.defined()) return ::testing::AssertionFailure() << "input " << k << " received no gradient";
    const double* pg = g.data<double>();
    double* px = x.data<double>();
    int64_t n = x.numel();
    int64_t step = (opts.max_elements > 0 && n > opts.max_elements) ? n / opts.max_elements : 1;
    for (int64_t i = 0; i < n; i += step) {
      double v = px[i];
      bool near_kink = false;
      for (double kp : opts.kinks) near_kink |= std::abs(v - kp) < opts.kink_band;
      if (near_kink) continue;
      px[i] = v + opts.eps;
      double lp = projected_loss(f, inputs, w);
      px[i] = v - opts.eps;
      double lm = projected_loss(f, inputs, w);
      px[i] = v;
      double numeric = (lp - lm) / (2 * opts.eps);
      double analytic = pg[i];
      ++n_checked;
      if (!(std::abs(analytic - numeric) <= opts.atol + opts.rtol * std::abs(numeric))) {
        if (++n_fail <= 10)
          failures << "\n  input " << k << " " << shape_str(x.shape()) << " element " << i << ": analytic "
                   << analytic << ", numeric " << numeric;
      }
    }
  }
  if (n_checked == 0) return ::testing::AssertionFailure() << "gradcheck checked no element";
  if (n_fail) return ::testing::AssertionFailure() << n_fail << " of " << n_checked << " gradient elements differ:" << failures.str();
  return ::testing::AssertionSuccess() << n_checked << " elements match";
}

}  // namespace effnet::testing
