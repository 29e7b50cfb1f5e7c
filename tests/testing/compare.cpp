// all_close, relative_l2 and the CPU-vs-CUDA check (see compare.h).
#include "tests/testing/compare.h"

#include <cmath>
#include <sstream>

namespace effnet::testing {

::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double rtol, double atol, const std::string& what) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << what << ": shapes differ " << shape_str(a.shape()) << " vs "
                                         << shape_str(b.shape());
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  int bad = 0;
  double worst = 0;
  int64_t worst_i = -1;
  for (size_t i = 0; i < va.size(); ++i) {
    double err = std::abs(va[i] - vb[i]);
    double tol = atol + rtol * std::abs(vb[i]);
    if (!(err <= tol)) {  // NaN fails here
      ++bad;
      if (!(err <= worst)) { worst = err; worst_i = int64_t(i); }
    }
  }
  if (bad)
    return ::testing::AssertionFailure() << what << ": " << bad << " of " << va.size()
                                         << " elements differ; worst at " << worst_i << ": " << va[size_t(worst_i)]
                                         << " vs " << vb[size_t(worst_i)];
  return ::testing::AssertionSuccess();
}

double relative_l2(const Tensor& a, const Tensor& b) { return relative_l2(std::vector<Tensor>{a}, {b}); }

double relative_l2(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  EFFNET_CHECK(a.size() == b.size(), "relative_l2: ", a.size(), " tensors against ", b.size());
  double num = 0, den = 0;
  for (size_t t = 0; t < a.size(); ++t) {
    std::vector<double> va = a[t].to_vector<double>(), vb = b[t].to_vector<double>();
    EFFNET_CHECK(va.size() == vb.size(), "relative_l2: tensor ", t, " has ", va.size(), " values against ", vb.size());
    for (size_t i = 0; i < va.size(); ++i) {
      num += (va[i] - vb[i]) * (va[i] - vb[i]);
      den += vb[i] * vb[i];
    }
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

::testing::AssertionResult cpu_cuda_match(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                          const std::vector<Tensor>& inputs, const CompareOptions& opts) {
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& x : inputs) {
    if (!x.defined()) { cpu_in.push_back(x); gpu_in.push_back(x); continue; }
    Tensor c = x.detach().clone(), g = x.detach().to(Device::cuda());
    if (x.requires_grad()) { c.set_requires_grad(true); g.set_requires_grad(true); }
    cpu_in.push_back(c);
    gpu_in.push_back(g);
  }
  Tensor out_c = f(cpu_in), out_g = f(gpu_in);
  if (!out_g.is_cuda()) return ::testing::AssertionFailure() << "CUDA run returned " << out_g.str();
  auto r = all_close(out_g, out_c, opts.rtol, opts.atol, "forward output");
  if (!r) return r;
  if (opts.check_grads && out_c.requires_grad()) {
    Generator gen(opts.seed);
    Tensor w = uniform(out_c.shape(), -1.0, 1.0, gen, out_c.dtype());
    sum(mul(out_c, w)).backward();
    sum(mul(out_g, w.to(Device::cuda()))).backward();
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!cpu_in[k].defined() || !cpu_in[k].requires_grad()) continue;
      if (!gpu_in[k].grad().defined()) return ::testing::AssertionFailure() << "input " << k << ": no CUDA gradient";
      auto rg = all_close(gpu_in[k].grad(), cpu_in[k].grad(), opts.rtol, opts.atol,
                          "gradient of input " + std::to_string(k));
      if (!rg) return rg;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace effnet::testing
