// batch_norm2d: values against a naive reference (training and eval), the running-statistics
// update (momentum, unbiased variance, one and two steps), gradient checks in both modes, error
// messages, the activation fused into training mode (gradient checks, equality with the separate
// op, one op each way), and CPU-vs-CUDA agreement including the running statistics.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/core/op_count.h"
#include "framework/framework.h"
#include "framework/ops/batch_norm.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// Naive per-channel statistics and normalisation, straight from the definition.
struct BnReference {
  std::vector<double> y, mean, var_biased, var_unbiased;
};

BnReference bn_reference(const Tensor& x_t, const Tensor& w_t, const Tensor& b_t, double eps) {
  const int64_t N = x_t.size(0), C = x_t.size(1), HW = x_t.size(2) * x_t.size(3);
  std::vector<double> x = x_t.to_vector<double>(), w = w_t.to_vector<double>(), b = b_t.to_vector<double>();
  BnReference r;
  r.y.resize(x.size());
  const double M = double(N * HW);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) s += x[size_t((n * C + c) * HW + i)];
    double mean = s / M, sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) sq += std::pow(x[size_t((n * C + c) * HW + i)] - mean, 2);
    double var = sq / M;
    r.mean.push_back(mean);
    r.var_biased.push_back(var);
    r.var_unbiased.push_back(sq / (M - 1));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        size_t k = size_t((n * C + c) * HW + i);
        r.y[k] = (x[k] - mean) / std::sqrt(var + eps) * w[size_t(c)] + b[size_t(c)];
      }
  }
  return r;
}

Tensor vec(const std::vector<double>& v, DType dtype) {
  return from_vector<double>(v, {int64_t(v.size())}).to(dtype);
}

void expect_vec_near(const Tensor& t, const std::vector<double>& want, double tol, const char* what) {
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << "[" << i << "]";
}

// gradcheck of batch_norm2d in x (uniform in [-x_range, x_range), seed `seed`), weight (in [0.5, 1.5),
// seed + 1) and bias (in [-1, 1), seed + 2), in the given mode with the given running statistics
// (handles: training updates the caller's tensors).
::testing::AssertionResult gradcheck_x_weight_bias(const Shape& shape, double x_range, uint64_t seed, bool training,
                                                   Tensor running_mean, Tensor running_var) {
  const int64_t C = shape[1];
  Tensor x = grad_input(shape, -x_range, x_range, seed);
  Tensor w = grad_input({C}, 0.5, 1.5, seed + 1), b = grad_input({C}, -1, 1, seed + 2);
  return gradcheck(
      [&](const std::vector<Tensor>& in) {
        return batch_norm2d(in[0], in[1], in[2], running_mean, running_var, training, 0.1, 1e-5);
      },
      {x, w, b});
}

}  // namespace

TEST(BatchNorm, HandComputedTrainingStep) {
  // One channel holding 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased var 5/3.
  Tensor x = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor w = from_vector<double>({2}, {1}), b = from_vector<double>({0.5}, {1});
  Tensor rm = zeros({1}, DType::Float64), rv = ones({1}, DType::Float64);
  Tensor y = batch_norm2d(x, w, b, rm, rv, true, 1.0, 1e-5);
  double s = 1.0 / std::sqrt(1.25 + 1e-5);
  expect_vec_near(y, {-1.5 * s * 2 + 0.5, -0.5 * s * 2 + 0.5, 0.5 * s * 2 + 0.5, 1.5 * s * 2 + 0.5}, 1e-12, "y");
  EXPECT_DOUBLE_EQ(rm.item(), 2.5);
  EXPECT_NEAR(rv.item(), 5.0 / 3.0, 1e-12);  // momentum 1: exactly the unbiased batch variance
}

class BatchNormTyped : public ::testing::TestWithParam<DType> {};

TEST_P(BatchNormTyped, TrainingMatchesReferenceOverTwoSteps) {
  const DType dt = GetParam();
  const double tol = dt == DType::Float64 ? 1e-12 : 2e-6;
  const double eps = 1e-3, momentum = 0.1;
  Generator gen(11);
  Tensor x1 = normal({4, 3, 5, 6}, 2.0, 3.0, gen, dt), x2 = normal({4, 3, 5, 6}, -1.0, 0.5, gen, dt);
  Tensor w = uniform({3}, 0.5, 1.5, gen, dt), b = uniform({3}, -1, 1, gen, dt);
  Tensor rm = zeros({3}, dt), rv = ones({3}, dt);
  uint64_t v0 = rm.version(), v1 = rv.version();

  Tensor y1 = batch_norm2d(x1, w, b, rm, rv, true, momentum, eps);
  BnReference r1 = bn_reference(x1, w, b, eps);
  expect_vec_near(y1, r1.y, tol, "y1");
  std::vector<double> want_rm(3), want_rv(3);
  for (int c = 0; c < 3; ++c) {
    want_rm[c] = (1 - momentum) * 0.0 + momentum * r1.mean[c];
    want_rv[c] = (1 - momentum) * 1.0 + momentum * r1.var_unbiased[c];
  }
  expect_vec_near(rm, want_rm, tol, "running_mean after one step");
  expect_vec_near(rv, want_rv, tol, "running_var after one step");
  EXPECT_GT(rm.version(), v0);
  EXPECT_GT(rv.version(), v1);

  Tensor y2 = batch_norm2d(x2, w, b, rm, rv, true, momentum, eps);
  BnReference r2 = bn_reference(x2, w, b, eps);
  expect_vec_near(y2, r2.y, tol, "y2");
  for (int c = 0; c < 3; ++c) {
    want_rm[c] = (1 - momentum) * want_rm[c] + momentum * r2.mean[c];
    want_rv[c] = (1 - momentum) * want_rv[c] + momentum * r2.var_unbiased[c];
  }
  expect_vec_near(rm, want_rm, tol, "running_mean after two steps");
  expect_vec_near(rv, want_rv, tol, "running_var after two steps");
  // The unbiased correction is visible at this size (n = 120): a biased update would fail above.
  EXPECT_GT(momentum * (r1.var_unbiased[0] - r1.var_biased[0]), 100 * tol);
}

TEST_P(BatchNormTyped, EvalUsesRunningStatsAndLeavesThemAlone) {
  const DType dt = GetParam();
  const double tol = dt == DType::Float64 ? 1e-12 : 2e-6;
  Generator gen(12);
  Tensor x = normal({3, 4, 3, 2}, 0.5, 2.0, gen, dt);
  Tensor w = uniform({4}, 0.5, 1.5, gen, dt), b = uniform({4}, -1, 1, gen, dt);
  Tensor rm = uniform({4}, -1, 1, gen, dt), rv = uniform({4}, 0.5, 2, gen, dt);
  std::vector<double> rm0 = rm.to_vector<double>(), rv0 = rv.to_vector<double>();
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  const double eps = 1e-5;
  Tensor y = batch_norm2d(x, w, b, rm, rv, false, 0.1, eps);
  std::vector<double> want(xv.size());
  for (size_t k = 0; k < xv.size(); ++k) {
    size_t c = (k / 6) % 4;
    want[k] = (xv[k] - rm0[c]) / std::sqrt(rv0[c] + eps) * wv[c] + bv[c];
  }
  expect_vec_near(y, want, tol, "eval y");
  EXPECT_EQ(rm.to_vector<double>(), rm0);
  EXPECT_EQ(rv.to_vector<double>(), rv0);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, BatchNormTyped, ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(BatchNorm, MomentumZeroKeepsRunningStats) {
  Generator gen(13);
  Tensor x = normal({2, 2, 3, 3}, 1, 1, gen, DType::Float64);
  Tensor w = ones({2}, DType::Float64), b = zeros({2}, DType::Float64);
  Tensor rm = from_vector<double>({0.25, -0.5}, {2}), rv = from_vector<double>({2, 3}, {2});
  batch_norm2d(x, w, b, rm, rv, true, 0.0, 1e-5);
  EXPECT_EQ(rm.to_vector<double>(), (std::vector<double>{0.25, -0.5}));
  EXPECT_EQ(rv.to_vector<double>(), (std::vector<double>{2, 3}));
}

TEST(BatchNorm, TrainingGradientCheck) {
  EXPECT_TRUE(gradcheck_x_weight_bias({3, 2, 3, 4}, 2, 1, true, zeros({2}, DType::Float64), ones({2}, DType::Float64)));
  // H = W = 1: statistics over the batch only.
  EXPECT_TRUE(gradcheck_x_weight_bias({5, 3, 1, 1}, 1, 4, true, zeros({3}, DType::Float64), ones({3}, DType::Float64)));
}

TEST(BatchNorm, EvalGradientCheck) {
  Generator gen(10);
  Tensor rm = uniform({3}, -1, 1, gen, DType::Float64), rv = uniform({3}, 0.5, 2, gen, DType::Float64);
  EXPECT_TRUE(gradcheck_x_weight_bias({2, 3, 3, 2}, 2, 7, false, rm, rv));
}

TEST(BatchNorm, FrozenAffineGradientCheck) {
  // Weight and bias that do not require grad (frozen batch norm): only x gets a gradient.
  Generator gen(14);
  Tensor w = uniform({2}, 0.5, 1.5, gen, DType::Float64), b = uniform({2}, -1, 1, gen, DType::Float64);
  Tensor rm = uniform({2}, -1, 1, gen, DType::Float64), rv = uniform({2}, 0.5, 2, gen, DType::Float64);
  for (bool training : {true, false}) {
    Tensor x = grad_input({3, 2, 2, 3}, -2, 2, 15);
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& in) { return batch_norm2d(in[0], w, b, rm, rv, training, 0.1, 1e-5); }, {x}))
        << "training " << training;
    EXPECT_FALSE(w.grad().defined());
  }
  // And the other way round: weight only, x a constant.
  for (bool training : {true, false}) {
    Tensor x = uniform({3, 2, 2, 3}, -2, 2, gen, DType::Float64);
    Tensor wg = grad_input({2}, 0.5, 1.5, 16);
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& in) { return batch_norm2d(x, in[0], b, rm, rv, training, 0.1, 1e-5); }, {wg}))
        << "training " << training;
  }
}

// ---- the fused activation ------------------------------------------------------------------------

namespace {
const FusedActivation kActivations[] = {FusedActivation::Silu, FusedActivation::Relu6, FusedActivation::Relu,
                                        FusedActivation::Sigmoid};
}  // namespace

TEST(BatchNormActivation, TrainingGradientCheck) {
  // The smooth activations by central differences (the kinks of relu and relu6 would be crossed
  // by the differences; those are checked against the separate op below).
  for (FusedActivation act : {FusedActivation::Silu, FusedActivation::Sigmoid}) {
    for (Shape shape : {Shape{3, 2, 3, 4}, Shape{5, 3, 1, 1}}) {
      const int64_t C = shape[1];
      Tensor x = grad_input(shape, -2, 2, 31), w = grad_input({C}, 0.5, 1.5, 32), b = grad_input({C}, -1, 1, 33);
      Tensor rm = zeros({C}, DType::Float64), rv = ones({C}, DType::Float64);
      EXPECT_TRUE(gradcheck(
          [&](const std::vector<Tensor>& in) {
            return batch_norm2d(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5, act);
          },
          {x, w, b}))
          << int(act) << " " << shape_str(shape);
    }
  }
}

TEST(BatchNormActivation, EqualsTheSeparateOps) {
  // Fused vs batch norm then the activation op: the same output and running statistics (the
  // activation runs on the same rounded value), and the same gradients up to the rounding of
  // the recomputed normalised value (from the saved float statistics instead of double ones).
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
    for (FusedActivation act : kActivations) {
      for (bool training : {true, false}) {
        Generator gen(41);
        const Shape shape{6, 5, 7, 3};
        Tensor x0 = normal(shape, 0.3, 1.5, gen, dt), w0 = uniform({5}, 0.5, 1.5, gen, dt);
        Tensor b0 = uniform({5}, -1, 1, gen, dt), gy = normal(shape, 0, 1, gen, dt);
        auto run = [&](bool fused) {
          Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
          Tensor b = b0.clone().set_requires_grad(true);
          Tensor rm = full({5}, 0.2, dt), rv = full({5}, 1.5, dt);
          Tensor y = fused ? batch_norm2d(x, w, b, rm, rv, training, 0.1, 1e-3, act)
                           : apply_activation(batch_norm2d(x, w, b, rm, rv, training, 0.1, 1e-3), act);
          y.backward(gy);
          return std::vector<Tensor>{y.detach(), x.grad(), w.grad(), b.grad(), rm, rv};
        };
        std::vector<Tensor> fused = run(true), separate = run(false);
        const char* names[] = {"y", "dx", "dweight", "dbias", "running_mean", "running_var"};
        for (size_t i = 0; i < fused.size(); ++i) {
          const bool exact = i == 0 || i >= 4;
          EXPECT_TRUE(all_close(fused[i], separate[i], exact ? 0.0 : tol, exact ? 0.0 : tol,
                                std::string(names[i]) + " act " + std::to_string(int(act)) + " " +
                                    dtype_name(dt) + (training ? " train" : " eval")));
        }
      }
    }
  }
}

TEST(BatchNormActivation, OneOpEachWayInTraining) {
  Generator gen(42);
  Tensor x = normal({4, 3, 5, 5}, 0, 1, gen).set_requires_grad(true);
  Tensor w = ones({3}).set_requires_grad(true), b = zeros({3}).set_requires_grad(true);
  Tensor rm = zeros({3}), rv = ones({3});
  OpCounter forward;
  Tensor y = batch_norm2d(x, w, b, rm, rv, true, 0.1, 1e-5, FusedActivation::Silu);
  EXPECT_EQ(forward.counts().ops, 1u);
  Tensor gy = ones_like(y);
  OpCounter backward;
  y.backward(gy);
  EXPECT_EQ(backward.counts().ops, 1u);
}

TEST(BatchNorm, EvalBackwardIsScaledGradient) {
  // dx = g * weight / sqrt(running_var + eps), independent of x.
  Tensor x = uniform({2, 2, 2, 2}, -1, 1).to(DType::Float64).set_requires_grad(true);
  Tensor w = from_vector<double>({2, -3}, {2}), b = zeros({2}, DType::Float64);
  Tensor rm = from_vector<double>({5, 6}, {2}), rv = from_vector<double>({3, 0}, {2});
  const double eps = 1.0;
  sum(batch_norm2d(x, w, b, rm, rv, false, 0.1, eps)).backward();
  std::vector<double> gx = x.grad().to_vector<double>();
  for (size_t k = 0; k < gx.size(); ++k) EXPECT_DOUBLE_EQ(gx[k], (k / 4) % 2 == 0 ? 2 / 2.0 : -3 / 1.0);
}

TEST(BatchNorm, BadInputsNameTheProblem) {
  Tensor x = zeros({2, 3, 4, 4});
  Tensor w = ones({3}), b = zeros({3}), rm = zeros({3}), rv = ones({3});
  auto expect_error = [](auto&& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error, expected one mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&] { Tensor x3 = zeros({2, 3, 4}); batch_norm2d(x3, w, b, rm, rv, true, 0.1, 1e-5); }, "4-D");
  expect_error([&] { Tensor w4 = ones({4}); batch_norm2d(x, w4, b, rm, rv, true, 0.1, 1e-5); }, "weight must have shape [3]");
  expect_error([&] { Tensor rv4 = ones({4}); batch_norm2d(x, w, b, rm, rv4, true, 0.1, 1e-5); }, "running_var");
  expect_error([&] { Tensor bd = zeros({3}, DType::Float64); batch_norm2d(x, w, bd, rm, rv, true, 0.1, 1e-5); }, "dtypes");
  expect_error([&] { batch_norm2d(x, w, b, rm, rv, true, 1.5, 1e-5); }, "momentum");
  expect_error([&] { batch_norm2d(x, w, b, rm, rv, true, 0.1, 0.0); }, "eps");
  expect_error([&] { batch_norm2d(x, Tensor(), b, rm, rv, true, 0.1, 1e-5); }, "weight is undefined");
  expect_error([&] { Tensor x1 = zeros({1, 3, 1, 1}); batch_norm2d(x1, w, b, rm, rv, true, 0.1, 1e-5); },
               "more than 1 value per channel");
  expect_error([&] { Tensor rmg = zeros({3}).set_requires_grad(true); batch_norm2d(x, w, b, rmg, rv, true, 0.1, 1e-5); },
               "must not require grad");
  // One value per channel is fine in eval mode.
  Tensor x1 = ones({1, 3, 1, 1});
  EXPECT_NO_THROW(batch_norm2d(x1, w, b, rm, rv, false, 0.1, 1e-5));
}

TEST(BatchNorm, SavedWeightChangedInPlaceIsCaught) {
  Tensor x = uniform({2, 2, 2, 2}, -1, 1).set_requires_grad(true);
  Tensor w = ones({2}).set_requires_grad(true), b = zeros({2}).set_requires_grad(true);
  Tensor rm = zeros({2}), rv = ones({2});
  Tensor y = batch_norm2d(x, w, b, rm, rv, true, 0.1, 1e-5);
  {
    NoGradGuard no_grad;
    w.mul_(2.0);
  }
  EXPECT_THROW(sum(y).backward(), Error);
}

// ---- CUDA -----------------------------------------------------------------------------------------

namespace {
CompareOptions bn_tolerance() {
  CompareOptions o;
  o.rtol = 1e-4;
  o.atol = 5e-5;
  return o;
}
}  // namespace

TEST(BatchNormCuda, TrainingMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator gen(21);
  for (Shape s : {Shape{8, 16, 7, 9}, Shape{16, 5, 1, 1}, Shape{2, 3, 33, 31}}) {
    Tensor x = normal(s, 1.0, 2.0, gen).set_requires_grad(true);
    Tensor w = uniform({s[1]}, 0.5, 1.5, gen).set_requires_grad(true);
    Tensor b = uniform({s[1]}, -1, 1, gen).set_requires_grad(true);
    EXPECT_TRUE(cpu_cuda_match(
        [](const std::vector<Tensor>& in) {
          Tensor rm = zeros({in[0].size(1)}, DType::Float32, in[0].device());
          Tensor rv = ones({in[0].size(1)}, DType::Float32, in[0].device());
          return batch_norm2d(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5);
        },
        {x, w, b}, bn_tolerance()))
        << shape_str(s);
  }
}

TEST(BatchNormCuda, FusedActivationMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator gen(24);
  for (FusedActivation act : kActivations) {
    for (Shape s : {Shape{8, 16, 7, 9}, Shape{16, 5, 1, 1}}) {
      Tensor x = normal(s, 1.0, 2.0, gen).set_requires_grad(true);
      Tensor w = uniform({s[1]}, 0.5, 1.5, gen).set_requires_grad(true);
      Tensor b = uniform({s[1]}, -1, 1, gen).set_requires_grad(true);
      EXPECT_TRUE(cpu_cuda_match(
          [act](const std::vector<Tensor>& in) {
            Tensor rm = zeros({in[0].size(1)}, DType::Float32, in[0].device());
            Tensor rv = ones({in[0].size(1)}, DType::Float32, in[0].device());
            return batch_norm2d(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5, act);
          },
          {x, w, b}, bn_tolerance()))
          << shape_str(s) << " act " << int(act);
    }
  }
}

TEST(BatchNormCuda, EvalMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator gen(22);
  for (Shape s : {Shape{8, 16, 7, 9}, Shape{3, 40, 14, 14}}) {
    Tensor x = normal(s, 1.0, 2.0, gen).set_requires_grad(true);
    Tensor w = uniform({s[1]}, 0.5, 1.5, gen).set_requires_grad(true);
    Tensor b = uniform({s[1]}, -1, 1, gen).set_requires_grad(true);
    Tensor rm = uniform({s[1]}, -1, 1, gen), rv = uniform({s[1]}, 0.5, 2, gen);
    auto f = [](const std::vector<Tensor>& in) {
      Tensor rm_ = in[3], rv_ = in[4];
      return batch_norm2d(in[0], in[1], in[2], rm_, rv_, false, 0.1, 1e-3);
    };
    EXPECT_TRUE(cpu_cuda_match(f, {x, w, b, rm, rv}, bn_tolerance())) << shape_str(s);
    // Frozen affine: only x needs a gradient (the parameter reductions are skipped).
    EXPECT_TRUE(cpu_cuda_match(f, {x, w.detach(), b.detach(), rm, rv}, bn_tolerance())) << shape_str(s);
  }
}

TEST(BatchNormCuda, RunningStatsMatchCpuAfterTwoSteps) {
  EFFNET_REQUIRE_CUDA();
  Generator gen(23);
  Tensor w = uniform({6}, 0.5, 1.5, gen), b = uniform({6}, -1, 1, gen);
  Tensor x1 = normal({4, 6, 5, 7}, 3.0, 2.0, gen), x2 = normal({4, 6, 5, 7}, -1.0, 0.5, gen);
  Tensor rm_c = zeros({6}), rv_c = ones({6});
  Tensor rm_g = rm_c.to(Device::cuda()), rv_g = rv_c.to(Device::cuda());
  Tensor wg = w.to(Device::cuda()), bg = b.to(Device::cuda());
  for (const Tensor& x : {x1, x2}) {
    Tensor yc = batch_norm2d(x, w, b, rm_c, rv_c, true, 0.3, 1e-5);
    Tensor yg = batch_norm2d(x.to(Device::cuda()), wg, bg, rm_g, rv_g, true, 0.3, 1e-5);
    EXPECT_TRUE(all_close(yg, yc, 1e-4, 1e-5, "training output"));
    EXPECT_TRUE(all_close(rm_g, rm_c, 1e-4, 1e-5, "running_mean"));
    EXPECT_TRUE(all_close(rv_g, rv_c, 1e-4, 1e-5, "running_var"));
  }
  // Eval with the updated statistics.
  Tensor yc = batch_norm2d(x1, w, b, rm_c, rv_c, false, 0.3, 1e-5);
  Tensor yg = batch_norm2d(x1.to(Device::cuda()), wg, bg, rm_g, rv_g, false, 0.3, 1e-5);
  EXPECT_TRUE(all_close(yg, yc, 1e-4, 1e-5, "eval output"));
}
