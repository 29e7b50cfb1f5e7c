// squeeze_excitation, the fused op: gradient checks in x and all four parameters (float64, CPU),
// equality with the six separate ops it replaces, frozen parameters, one op each way, clear
// errors, and CPU-vs-CUDA agreement.
#include <gtest/gtest.h>

#include "framework/core/op_count.h"
#include "framework/framework.h"
#include "framework/ops/squeeze_excitation.h"
#include "tests/testing/compare.h"
#include "tests/testing/errors.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// The composite the op replaces (what nn::SqueezeExcitation computed before).
Tensor separate(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                FusedActivation act) {
  Tensor h = apply_activation(conv2d(global_avg_pool2d(x), w1, b1, Conv2dParams{}), act);
  return mul(x, sigmoid(conv2d(h, w2, b2, Conv2dParams{})));
}

struct Operands {
  Tensor x, w1, b1, w2, b2;
};

Operands operands(const Shape& shape, int64_t S, DType dt, uint64_t seed) {
  Generator gen(seed);
  const int64_t C = shape[1];
  return {normal(shape, 0.2, 1.0, gen, dt), normal({S, C, 1, 1}, 0, 0.7, gen, dt), normal({S}, 0, 0.5, gen, dt),
          normal({C, S, 1, 1}, 0, 0.7, gen, dt), normal({C}, 0, 0.5, gen, dt)};
}

const FusedActivation kActivations[] = {FusedActivation::Silu, FusedActivation::Relu6, FusedActivation::Relu,
                                        FusedActivation::Sigmoid, FusedActivation::None};

}  // namespace

TEST(SqueezeExcitation, GradientCheck) {
  // The smooth activations (relu's and relu6's kinks are checked against the separate ops).
  for (FusedActivation act : {FusedActivation::Silu, FusedActivation::Sigmoid, FusedActivation::None}) {
    for (Shape shape : {Shape{3, 4, 3, 2}, Shape{2, 5, 1, 1}}) {
      Operands o = operands(shape, 3, DType::Float64, 5);
      std::vector<Tensor> in = {o.x, o.w1, o.b1, o.w2, o.b2};
      for (Tensor& t : in) t.set_requires_grad(true);
      EXPECT_TRUE(gradcheck(
          [act](const std::vector<Tensor>& v) { return squeeze_excitation(v[0], v[1], v[2], v[3], v[4], act); }, in))
          << int(act) << " " << shape_str(shape);
    }
  }
}

TEST(SqueezeExcitation, EqualsTheSeparateOps) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
    for (FusedActivation act : kActivations) {
      Operands o = operands({6, 40, 5, 7}, 10, dt, 7);
      Generator gen(8);
      Tensor gy = normal(o.x.shape(), 0, 1, gen, dt);
      auto run = [&](bool fused) {
        std::vector<Tensor> in = {o.x.clone(), o.w1.clone(), o.b1.clone(), o.w2.clone(), o.b2.clone()};
        for (Tensor& t : in) t.set_requires_grad(true);
        Tensor y = fused ? squeeze_excitation(in[0], in[1], in[2], in[3], in[4], act)
                         : separate(in[0], in[1], in[2], in[3], in[4], act);
        y.backward(gy);
        std::vector<Tensor> out = {y.detach()};
        for (Tensor& t : in) out.push_back(t.grad());
        return out;
      };
      std::vector<Tensor> fused = run(true), ref = run(false);
      const char* names[] = {"y", "dx", "dw_reduce", "db_reduce", "dw_expand", "db_expand"};
      for (size_t i = 0; i < fused.size(); ++i)
        EXPECT_TRUE(all_close(fused[i], ref[i], tol, tol,
                              std::string(names[i]) + " act " + std::to_string(int(act)) + " " + dtype_name(dt)));
    }
  }
}

TEST(SqueezeExcitation, FrozenParametersOrInput) {
  // Only some inputs want gradients: those get the same values as when all do.
  Operands o = operands({3, 6, 4, 4}, 2, DType::Float64, 9);
  auto grads = [&](std::vector<bool> wants) {
    std::vector<Tensor> in = {o.x.clone(), o.w1.clone(), o.b1.clone(), o.w2.clone(), o.b2.clone()};
    for (size_t i = 0; i < in.size(); ++i) in[i].set_requires_grad(wants[i]);
    sum(squeeze_excitation(in[0], in[1], in[2], in[3], in[4], FusedActivation::Silu)).backward();
    std::vector<Tensor> g;
    for (Tensor& t : in) g.push_back(t.grad());
    return g;
  };
  std::vector<Tensor> all = grads({true, true, true, true, true});
  std::vector<Tensor> x_only = grads({true, false, false, false, false});
  std::vector<Tensor> params_only = grads({false, true, true, true, true});
  EXPECT_TRUE(all_close(x_only[0], all[0], 1e-14, 1e-14, "dx"));
  for (size_t i = 1; i < 5; ++i) {
    EXPECT_FALSE(x_only[i].defined()) << i;
    EXPECT_TRUE(all_close(params_only[i], all[i], 1e-14, 1e-14, "parameter " + std::to_string(i)));
  }
  EXPECT_FALSE(params_only[0].defined());
}

TEST(SqueezeExcitation, OneOpEachWay) {
  Operands o = operands({4, 8, 3, 3}, 2, DType::Float32, 10);
  o.x.set_requires_grad(true);
  o.w1.set_requires_grad(true);
  OpCounter forward;
  Tensor y = squeeze_excitation(o.x, o.w1, o.b1, o.w2, o.b2, FusedActivation::Silu);
  EXPECT_EQ(forward.counts().ops, 1u);
  Tensor gy = ones_like(y);
  OpCounter backward;
  y.backward(gy);
  EXPECT_EQ(backward.counts().ops, 1u);
}

TEST(SqueezeExcitation, BadInputsNameTheProblem) {
  Operands o = operands({2, 6, 3, 3}, 2, DType::Float32, 11);
  const auto act = FusedActivation::Silu;
  EXPECT_ERROR_HAS(squeeze_excitation(o.x.reshape({2, 6, 9}), o.w1, o.b1, o.w2, o.b2, act), "4-D");
  EXPECT_ERROR_HAS(squeeze_excitation(o.x, o.w1.reshape({2, 3, 2, 1}), o.b1, o.w2, o.b2, act), "w_reduce",
                   "[2, 6, 1, 1]");
  EXPECT_ERROR_HAS(squeeze_excitation(o.x, o.w1, zeros({3}), o.w2, o.b2, act), "b_reduce");
  EXPECT_ERROR_HAS(squeeze_excitation(o.x, o.w1, o.b1, zeros({6, 3, 1, 1}), o.b2, act), "w_expand");
  EXPECT_ERROR_HAS(squeeze_excitation(o.x, o.w1, o.b1, o.w2, zeros({6}, DType::Float64), act), "b_expand", "dtypes");
}

TEST(SqueezeExcitationCuda, MatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  for (FusedActivation act : kActivations) {
    for (Shape shape : {Shape{8, 48, 7, 9}, Shape{16, 96, 1, 1}}) {
      Operands o = operands(shape, 12, DType::Float32, 12);
      std::vector<Tensor> in = {o.x, o.w1, o.b1, o.w2, o.b2};
      for (Tensor& t : in) t.set_requires_grad(true);
      EXPECT_TRUE(cpu_cuda_match(
          [act](const std::vector<Tensor>& v) { return squeeze_excitation(v[0], v[1], v[2], v[3], v[4], act); }, in))
          << shape_str(shape) << " act " << int(act);
    }
  }
}
