// Optimizers and learning-rate schedules: each update against steps worked out by hand (float64,
// CPU), skipping and zero_grad, exact checkpoint resume, argument errors, schedule values, and
// CPU-vs-CUDA agreement of the fused update kernels, and the multi-tensor update: one backend call
// per group of parameters, equal to updating each parameter on its own. The weight average (ema.h)
// likewise: its warm-up, updates, swap and state against hand-computed values.
#include <cmath>
#include <functional>
#include <memory>

#include <gtest/gtest.h>

#include "framework/core/op_count.h"
#include "framework/framework.h"
#include "framework/optim/adam.h"
#include "framework/optim/ema.h"
#include "framework/optim/lr_schedule.h"
#include "framework/optim/rmsprop.h"
#include "framework/optim/sgd.h"
#include "tests/testing/compare.h"
#include "tests/testing/errors.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

Tensor param(std::vector<double> values) {
  return from_vector<double>(values, {int64_t(values.size())}).set_requires_grad(true);
}

void set_grad(const Tensor& p, std::vector<double> values) {
  p.set_grad(from_vector<double>(values, {int64_t(values.size())}));
}

// Hand-derived values are compared with a relative tolerance of a few ulps' worth: the kernel may
// associate the same formula differently (e.g. sqrt(v)/sqrt(bc2) for sqrt(v/bc2)).
void expect_values(const Tensor& t, const std::vector<double>& expected, const char* what) {
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 1e-12 * std::max(1.0, std::abs(expected[i]))) << what << " element " << i;
}

bool has_entry(const NamedTensors& state, const std::string& name) {
  for (const auto& e : state)
    if (e.first == name) return true;
  return false;
}

Tensor entry(const NamedTensors& state, const std::string& name) {
  for (const auto& e : state)
    if (e.first == name) return e.second;
  ADD_FAILURE() << "no state entry " << name;
  return Tensor();
}

}  // namespace

// ---- SGD ------------------------------------------------------------------------------------------

TEST(SGD, PlainStep) {
  Tensor p = param({1, 2, -1});
  SGD opt({p}, 0.5);
  set_grad(p, {0.5, -1, 2});
  opt.step();
  // p -= 0.5·g: [1 - 0.25, 2 + 0.5, -1 - 1]
  expect_values(p, {0.75, 2.5, -2}, "step 1");
  set_grad(p, {1, 1, 1});
  opt.step();
  expect_values(p, {0.25, 2, -2.5}, "step 2");
  EXPECT_EQ(opt.step_count(), 2);
  EXPECT_TRUE(opt.state().empty()) << "no momentum: no buffers";
}

TEST(SGD, MomentumWithDampeningFirstStepUndamped) {
  Tensor p = param({1, -2});
  SGD opt({p}, /*lr=*/0.5, /*momentum=*/0.5, /*dampening=*/0.25);
  // Step 1: buf = g = [1, 2] (PyTorch: no dampening on the first step); p = [1 - 0.5, -2 - 1].
  set_grad(p, {1, 2});
  opt.step();
  expect_values(p, {0.5, -3}, "step 1");
  expect_values(entry(opt.state(), "momentum.0"), {1, 2}, "buf 1");
  // Step 2: buf = 0.5·[1, 2] + 0.75·[2, -2] = [2, -0.5]; p = [0.5 - 1, -3 + 0.25].
  set_grad(p, {2, -2});
  opt.step();
  expect_values(p, {-0.5, -2.75}, "step 2");
  // Step 3: buf = 0.5·[2, -0.5] + 0.75·[0, 4] = [1, 2.75]; p = [-0.5 - 0.5, -2.75 - 1.375].
  set_grad(p, {0, 4});
  opt.step();
  expect_values(p, {-1, -4.125}, "step 3");
  expect_values(entry(opt.state(), "momentum.0"), {1, 2.75}, "buf 3");
}

TEST(SGD, Nesterov) {
  Tensor p = param({1, -2});
  SGD opt({p}, 0.5, 0.5, 0.0, 0.0, /*nesterov=*/true);
  // Step 1: buf = [1, 2]; d = g + 0.5·buf = [1.5, 3]; p = [1 - 0.75, -2 - 1.5].
  set_grad(p, {1, 2});
  opt.step();
  expect_values(p, {0.25, -3.5}, "step 1");
  // Step 2: buf = 0.5·[1, 2] + [2, -2] = [2.5, -1]; d = [2, -2] + 0.5·buf = [3.25, -2.5];
  // p = [0.25 - 1.625, -3.5 + 1.25].
  set_grad(p, {2, -2});
  opt.step();
  expect_values(p, {-1.375, -2.25}, "step 2");
}

TEST(SGD, WeightDecayIsAddedToTheGradientBeforeMomentum) {
  Tensor a = param({2, -4}), b = param({2});
  SGD plain({a}, 0.5, 0.0, 0.0, /*weight_decay=*/0.5);
  SGD with_momentum({b}, 0.5, /*momentum=*/0.5, 0.0, /*weight_decay=*/0.5);
  for (int s = 0; s < 2; ++s) {
    set_grad(a, {1, 1});
    set_grad(b, {1});
    plain.step();
    with_momentum.step();
  }
  // a: d = [1 + 1, 1 - 2] = [2, -1] -> [1, -3.5]; d = [1 + 0.5, 1 - 1.75] -> [1 - 0.75, -3.5 + 0.375].
  expect_values(a, {0.25, -3.125}, "no momentum");
  // b: d = 1 + 1 = 2, buf = 2, p = 1; d = 1 + 0.5 = 1.5, buf = 0.5·2 + 1.5 = 2.5, p = 1 - 1.25.
  expect_values(b, {-0.25}, "momentum");
}

TEST(SGD, BadArguments) {
  Tensor p = param({1});
  EXPECT_NE(error_of([&] { SGD({p}, -0.1); }).find("learning rate"), std::string::npos);
  EXPECT_NE(error_of([&] { SGD({p}, 0.1, 0.0, 0.0, 0.0, true); }).find("nesterov"), std::string::npos);
  EXPECT_NE(error_of([&] { SGD({p}, 0.1, 0.9, 0.1, 0.0, true); }).find("dampening 0.1"), std::string::npos);
  EXPECT_NE(error_of([&] { SGD({p}, 0.1, -0.9); }).find("momentum"), std::string::npos);
  EXPECT_NE(error_of([&] { SGD({p, p}, 0.1); }).find("same tensor"), std::string::npos);
  Tensor not_leaf = mul(p, 2.0);
  EXPECT_NE(error_of([&] { SGD({not_leaf}, 0.1); }).find("not a leaf"), std::string::npos);
  Tensor labels = from_vector<int64_t>({1, 2}, {2});
  EXPECT_NE(error_of([&] { SGD({labels}, 0.1); }).find("floating"), std::string::npos);
}

// ---- Adam / AdamW ---------------------------------------------------------------------------------

TEST(Adam, TwoStepsWithBiasCorrection) {
  Tensor p = param({1, -2});
  Adam opt({p}, /*lr=*/0.1);  // beta1 0.9, beta2 0.999, eps 1e-8
  const double eps = 1e-8;
  // Step 1: m = 0.1·g, v = 0.001·g²; bias corrections 0.1 and 0.001 give m̂ = g, v̂ = g², so
  // p -= 0.1·g / (|g| + eps).
  set_grad(p, {0.5, -1});
  opt.step();
  const double p1[] = {1 - 0.1 * 0.5 / (0.5 + eps), -2 + 0.1 * 1 / (1 + eps)};
  expect_values(p, {p1[0], p1[1]}, "step 1");
  expect_values(entry(opt.state(), "exp_avg.0"), {0.05, -0.1}, "m 1");
  expect_values(entry(opt.state(), "exp_avg_sq.0"), {0.00025, 0.001}, "v 1");
  // Step 2, g = [1, 0.5]:
  //   m = 0.9·[0.05, -0.1] + 0.1·[1, 0.5] = [0.145, -0.04]
  //   v = 0.999·[0.00025, 0.001] + 0.001·[1, 0.25] = [0.00124975, 0.001249]
  //   bias corrections: 1 - 0.9² = 0.19, 1 - 0.999² = 0.001999
  //   p -= 0.1 · (m / 0.19) / (sqrt(v / 0.001999) + eps)
  set_grad(p, {1, 0.5});
  opt.step();
  expect_values(entry(opt.state(), "exp_avg.0"), {0.145, -0.04}, "m 2");
  expect_values(entry(opt.state(), "exp_avg_sq.0"), {0.00124975, 0.001249}, "v 2");
  expect_values(p,
                {p1[0] - 0.1 * (0.145 / 0.19) / (std::sqrt(0.00124975 / 0.001999) + eps),
                 p1[1] - 0.1 * (-0.04 / 0.19) / (std::sqrt(0.001249 / 0.001999) + eps)},
                "step 2");
  EXPECT_EQ(entry(opt.state(), "step.0").to_vector<int64_t>(), std::vector<int64_t>{2});
}

TEST(Adam, L2WeightDecayVersusDecoupledAdamW) {
  // One step from p = 2 with g = -0.5, lr 0.1, weight decay 0.5. The first Adam step moves by
  // lr·sign(g') (|g'| / (|g'| + eps)), so only the sign of the effective gradient matters:
  //   no decay: g' = -0.5          -> p = 2 + 0.1·0.5/(0.5 + eps)            ≈ 2.1
  //   Adam L2:  g' = -0.5 + 0.5·2 = 0.5 -> p = 2 - 0.1·0.5/(0.5 + eps)        ≈ 1.9
  //   AdamW:    p = 2·(1 - 0.1·0.5) = 1.9, then g = -0.5 -> p = 1.9 + 0.1·0.5/(0.5 + eps) ≈ 2.0
  const double eps = 1e-8, step1 = 0.1 * 0.5 / (0.5 + eps);
  Tensor a = param({2}), b = param({2}), c = param({2});
  Adam none({a}, 0.1);
  Adam l2({b}, 0.1, 0.9, 0.999, 1e-8, 0.5);
  AdamW decoupled({c}, 0.1, 0.9, 0.999, 1e-8, 0.5);
  for (const Tensor& p : {a, b, c}) set_grad(p, {-0.5});
  none.step();
  l2.step();
  decoupled.step();
  expect_values(a, {2 + step1}, "Adam, no decay");
  expect_values(b, {2 - step1}, "Adam, L2");
  expect_values(c, {1.9 + step1}, "AdamW");
  // AdamW step 2 with g = 1: p *= 0.95; m = 0.9·(-0.05) + 0.1·1 = 0.055;
  // v = 0.999·0.00025 + 0.001·1 = 0.00124975; p -= 0.1·(0.055/0.19)/(sqrt(0.00124975/0.001999) + eps).
  set_grad(c, {1});
  decoupled.step();
  expect_values(c, {(1.9 + step1) * 0.95 - 0.1 * (0.055 / 0.19) / (std::sqrt(0.00124975 / 0.001999) + eps)},
                "AdamW step 2");
  EXPECT_EQ(decoupled.name(), "AdamW");
  EXPECT_DOUBLE_EQ(AdamW({param({1})}).weight_decay(), 1e-2) << "PyTorch's AdamW default";
}

TEST(Adam, EachParameterCountsItsOwnSteps) {
  // b gets its first gradient on the optimizer's second step: its bias correction must use t = 1
  // (a full lr-sized first step), not the optimizer's step count 2.
  Tensor a = param({1}), b = param({1});
  Adam opt({a, b}, 0.1);
  set_grad(a, {1});
  opt.step();
  set_grad(a, {1});
  set_grad(b, {-2});
  opt.step();
  expect_values(b, {1 + 0.1 * 2 / (2 + 1e-8)}, "b after its first update");
  EXPECT_EQ(opt.param_step(0), 2);
  EXPECT_EQ(opt.param_step(1), 1);
}

TEST(Adam, BadArguments) {
  Tensor p = param({1});
  EXPECT_NE(error_of([&] { Adam({p}, 0.1, 1.0); }).find("beta1"), std::string::npos);
  EXPECT_NE(error_of([&] { AdamW({p}, 0.1, 0.9, -0.1); }).find("AdamW: beta2"), std::string::npos);
  EXPECT_NE(error_of([&] { Adam({p}, 0.1, 0.9, 0.999, -1.0); }).find("eps"), std::string::npos);
}

// ---- RMSprop --------------------------------------------------------------------------------------

TEST(RMSprop, TfStyleEpsInsideSqrtAndMeanSquareStartsAtOne) {
  Tensor p = param({1, 1});
  RMSprop opt({p}, /*lr=*/0.1, /*rho=*/0.9, /*momentum=*/0.9, /*eps=*/0.44);
  // Step 1, g = [1, -3]: ms = 0.9·1 + 0.1·g² = [1.0, 1.8]
  //   mom = 0.1·g / sqrt(ms + 0.44) = [0.1/1.2, -0.3/sqrt(2.24)], p -= mom.
  set_grad(p, {1, -3});
  opt.step();
  const double mom1[] = {0.1 / 1.2, -0.3 / std::sqrt(2.24)};
  expect_values(entry(opt.state(), "square_avg.0"), {1.0, 1.8}, "ms 1");
  expect_values(entry(opt.state(), "momentum.0"), {mom1[0], mom1[1]}, "mom 1");
  expect_values(p, {1 - mom1[0], 1 - mom1[1]}, "step 1");
  // eps outside the root (PyTorch) would give 1 - 0.1/1.44; ms starting at 0 would give
  // ms = [0.1, 0.9]. Both must be clearly off.
  EXPECT_GT(std::abs(p.to_vector<double>()[0] - (1 - 0.1 / 1.44)), 1e-3);
  // Step 2, g = [0.5, 1]: ms = [0.9·1.0 + 0.025, 0.9·1.8 + 0.1] = [0.925, 1.72]
  //   mom = 0.9·mom1 + 0.1·g / sqrt(ms + 0.44), p -= mom.
  set_grad(p, {0.5, 1});
  opt.step();
  const double mom2[] = {0.9 * mom1[0] + 0.05 / std::sqrt(1.365), 0.9 * mom1[1] + 0.1 / std::sqrt(2.16)};
  expect_values(entry(opt.state(), "square_avg.0"), {0.925, 1.72}, "ms 2");
  expect_values(p, {1 - mom1[0] - mom2[0], 1 - mom1[1] - mom2[1]}, "step 2");
}

TEST(RMSprop, WithoutMomentumAndWithWeightDecay) {
  // momentum 0: p -= lr·g'/sqrt(ms + eps) with g' = g + wd·p = 0 + 0.5·2 = 1, ms = 0.9 + 0.1 = 1.
  Tensor p = param({2});
  RMSprop opt({p}, 0.1, 0.9, /*momentum=*/0.0, /*eps=*/0.44, /*weight_decay=*/0.5);
  set_grad(p, {0});
  opt.step();
  expect_values(p, {2 - 0.1 / 1.2}, "step 1");
  NamedTensors state = opt.state();
  EXPECT_TRUE(has_entry(state, "square_avg.0"));
  EXPECT_FALSE(has_entry(state, "momentum.0")) << "no momentum buffer when momentum is 0";
}

TEST(RMSprop, EfficientNetDefaults) {
  RMSprop opt({param({1})}, 0.016);
  EXPECT_DOUBLE_EQ(opt.rho(), 0.9);
  EXPECT_DOUBLE_EQ(opt.momentum(), 0.9);
  EXPECT_DOUBLE_EQ(opt.eps(), 1e-3);
  EXPECT_DOUBLE_EQ(opt.weight_decay(), 0.0);
}

// ---- shared behaviour -----------------------------------------------------------------------------

TEST(Optimizer, SkipsParametersWithoutGradient) {
  Tensor a = param({1, 2}), b = param({3});
  SGD opt({a, b}, 0.5, 0.9);
  set_grad(a, {1, 1});
  uint64_t va = a.version(), vb = b.version();
  opt.step();
  expect_values(a, {0.5, 1.5}, "a");
  expect_values(b, {3}, "b untouched");
  EXPECT_EQ(a.version(), va + 1) << "an updated parameter's version is bumped";
  EXPECT_EQ(b.version(), vb);
  NamedTensors state = opt.state();
  EXPECT_TRUE(has_entry(state, "momentum.0"));
  EXPECT_FALSE(has_entry(state, "momentum.1")) << "no buffer for a parameter never updated";
}

TEST(Optimizer, ZeroGradDropsGradientsAndBackwardRefillsThem) {
  Tensor p = param({1, -2});
  SGD opt({p}, 0.25);
  sum(mul(p, p)).backward();  // g = 2p = [2, -4]
  opt.step();
  expect_values(p, {0.5, -1}, "step from a real backward");
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
  opt.step();  // nothing to do, but the step counts
  expect_values(p, {0.5, -1}, "no gradient, no change");
  EXPECT_EQ(opt.step_count(), 2);
  sum(mul(p, p)).backward();  // fresh, not accumulated onto the old [2, -4]
  expect_values(p.grad(), {1, -2}, "grad after zero_grad");
}

TEST(Optimizer, BadGradientLeavesEveryParameterUnchanged) {
  Tensor a = param({1}), b = param({2});
  SGD opt({a, b}, 0.5);
  set_grad(a, {1});
  b.set_grad(from_vector<float>({1.0f}, {1}));  // float32 gradient for a float64 parameter
  std::string message = error_of([&] { opt.step(); });
  EXPECT_NE(message.find("parameter 1"), std::string::npos) << message;
  expect_values(a, {1}, "a");
  EXPECT_EQ(opt.step_count(), 0);
}

TEST(Optimizer, LearningRateAndStepCount) {
  Tensor p = param({1});
  SGD opt({p}, 0.5);
  opt.set_lr(0.25);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.25);
  set_grad(p, {1});
  opt.step();
  expect_values(p, {0.75}, "uses the new lr");
  EXPECT_THROW(opt.set_lr(std::nan("")), Error);
  EXPECT_THROW(opt.set_step_count(-1), Error);
  opt.set_step_count(41);
  EXPECT_EQ(opt.step_count(), 41);
  EXPECT_EQ(opt.params().size(), 1u);
  EXPECT_TRUE(opt.params()[0].same(p));
}

// Three steps, save, two more; a fresh optimizer over copies of the saved parameters, restored,
// must make the same two steps bit for bit (learning rate from a schedule of the step count).
void check_resume(const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make) {
  Generator gen(5);
  std::vector<Tensor> params = {uniform({3}, -1, 1, gen, DType::Float64).set_requires_grad(true),
                                uniform({2, 2}, -1, 1, gen, DType::Float64).set_requires_grad(true)};
  Tensor c0 = uniform({3}, 0.5, 2, gen, DType::Float64), c1 = uniform({2, 2}, 0.5, 2, gen, DType::Float64);
  CosineLR schedule(0.05, 10, 2, 0.001);
  auto train = [&](Optimizer& opt, int steps) {
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      const auto& p = opt.params();
      Tensor loss = add(sum(mul(mul(p[0], p[0]), c0)), sum(mul(mul(p[1], p[1]), c1)));
      loss = add(loss, sum(mul(p[0], 0.3)));  // keeps gradients away from zero
      loss.backward();
      opt.set_lr(schedule.lr_at(opt.step_count()));
      opt.step();
    }
  };
  std::unique_ptr<Optimizer> first = make(params);
  train(*first, 3);
  NamedTensors saved = first->state();
  int64_t saved_steps = first->step_count();
  std::vector<Tensor> copies;
  for (const Tensor& p : params) copies.push_back(p.detach().clone().set_requires_grad(true));
  train(*first, 2);

  std::unique_ptr<Optimizer> resumed = make(copies);
  resumed->load_state(saved);
  resumed->set_step_count(saved_steps);
  train(*resumed, 2);
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_EQ(copies[i].to_vector<double>(), params[i].to_vector<double>()) << first->name() << " parameter " << i;
  NamedTensors a = first->state(), b = resumed->state();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    if (a[i].second.dtype() == DType::Int64)
      EXPECT_EQ(a[i].second.to_vector<int64_t>(), b[i].second.to_vector<int64_t>()) << a[i].first;
    else
      EXPECT_EQ(a[i].second.to_vector<double>(), b[i].second.to_vector<double>()) << a[i].first;
  }
}

TEST(Optimizer, StateRoundTripResumesExactly) {
  check_resume([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1, 0.9, 0.0, 1e-2, true); });
  check_resume([](std::vector<Tensor> p) { return std::make_unique<Adam>(p, 0.1, 0.9, 0.999, 1e-8, 1e-2); });
  check_resume([](std::vector<Tensor> p) { return std::make_unique<AdamW>(p, 0.1); });
  check_resume([](std::vector<Tensor> p) { return std::make_unique<RMSprop>(p, 0.1, 0.9, 0.9, 1e-3, 1e-5); });
}

TEST(Optimizer, StateIsACopy) {
  Tensor p = param({1});
  SGD opt({p}, 0.5, 0.5);
  set_grad(p, {1});
  opt.step();
  NamedTensors saved = opt.state();
  opt.step();
  expect_values(entry(saved, "momentum.0"), {1}, "saved buffer unchanged by later steps");
}

TEST(Optimizer, LoadStateRejectsMismatches) {
  Tensor p = param({1, 2});
  Adam adam({p}, 0.1);
  set_grad(p, {1, 1});
  adam.step();
  NamedTensors good = adam.state();

  SGD sgd({param({1, 2})}, 0.1, 0.9);
  EXPECT_NE(error_of([&] { sgd.load_state(good); }).find("unknown state entry 'exp_avg.0'"), std::string::npos);
  auto with = [&](const std::string& name, const Tensor& t) {
    NamedTensors s;
    for (const auto& e : good)
      if (e.first != name) s.push_back(e);
    if (t.defined()) s.emplace_back(name, t);
    return s;
  };
  Adam other({param({5, 6})}, 0.1);
  std::string m = error_of([&] { other.load_state(with("exp_avg.0", zeros({3}, DType::Float64))); });
  EXPECT_NE(m.find("[3]"), std::string::npos) << m;
  EXPECT_NE(m.find("[2]"), std::string::npos) << m;
  m = error_of([&] { other.load_state(with("exp_avg.0", zeros({2}, DType::Float32))); });
  EXPECT_NE(m.find("float32"), std::string::npos) << m;
  m = error_of([&] { other.load_state(with("exp_avg.7", zeros({2}, DType::Float64))); });
  EXPECT_NE(m.find("1 parameters"), std::string::npos) << m;
  m = error_of([&] { other.load_state(with("step.0", Tensor())); });
  EXPECT_NE(m.find("no 'step.0'"), std::string::npos) << m;
  m = error_of([&] { other.load_state(with("exp_avg_sq.0", Tensor())); });
  EXPECT_NE(m.find("no 'exp_avg_sq.0'"), std::string::npos) << m;
  m = error_of([&] { other.load_state(with("exp_avg", zeros({2}, DType::Float64))); });
  EXPECT_NE(m.find("<buffer>.<parameter index>"), std::string::npos) << m;
  // Failed loads changed nothing; a good one replaces the state.
  EXPECT_TRUE(other.state().empty());
  other.load_state(good);
  EXPECT_EQ(other.state().size(), 3u);
  EXPECT_EQ(other.param_step(0), 1);
  other.load_state({});
  EXPECT_TRUE(other.state().empty()) << "loading an empty state resets the optimizer";
}

// ---- learning-rate schedules ----------------------------------------------------------------------

TEST(LRSchedule, ConstantAndStep) {
  ConstantLR constant(0.1);
  EXPECT_DOUBLE_EQ(constant.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(constant.lr_at(123456), 0.1);
  StepLR step(1.0, 10, 0.5);
  EXPECT_DOUBLE_EQ(step.lr_at(0), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(9), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(10), 0.5);
  EXPECT_DOUBLE_EQ(step.lr_at(25), 0.25);
  EXPECT_THROW(step.lr_at(-1), Error);
  EXPECT_THROW(StepLR(1.0, 0, 0.5), Error);
}

TEST(LRSchedule, CosineWithWarmup) {
  CosineLR lr(1.0, /*total=*/110, /*warmup=*/10, /*min_lr=*/0.1);
  EXPECT_DOUBLE_EQ(lr.lr_at(0), 0.1);   // base · 1/10
  EXPECT_DOUBLE_EQ(lr.lr_at(4), 0.5);   // base · 5/10
  EXPECT_DOUBLE_EQ(lr.lr_at(9), 1.0);   // end of warm-up
  EXPECT_DOUBLE_EQ(lr.lr_at(10), 1.0);  // cosine at 0
  // a quarter of the way: 0.1 + 0.9·(1 + cos(pi/4))/2
  EXPECT_DOUBLE_EQ(lr.lr_at(35), 0.1 + 0.9 * (1 + std::sqrt(0.5)) / 2);
  EXPECT_DOUBLE_EQ(lr.lr_at(60), 0.55);  // half way: 0.1 + 0.9/2
  EXPECT_DOUBLE_EQ(lr.lr_at(110), 0.1);
  EXPECT_DOUBLE_EQ(lr.lr_at(5000), 0.1);
  CosineLR plain(2.0, 4);
  EXPECT_DOUBLE_EQ(plain.lr_at(0), 2.0);
  EXPECT_DOUBLE_EQ(plain.lr_at(2), 1.0);
  EXPECT_NEAR(plain.lr_at(3), 1 - std::sqrt(0.5), 1e-15);
  EXPECT_DOUBLE_EQ(plain.lr_at(4), 0.0);
  EXPECT_NE(error_of([] { CosineLR(1.0, 10, 10); }).find("warmup_steps < total_steps"), std::string::npos);
  EXPECT_THROW(CosineLR(1.0, 10, 0, 2.0), Error);
  EXPECT_THROW(plain.lr_at(-3), Error);
}

// ---- multi-tensor updates ---------------------------------------------------------------------

namespace {

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;

// Float32 parameters of sizes around and across the CPU's parallel grain (32768 elements), so that
// thread ranges begin and end inside tensors and span several; one parameter starts late, one
// skips a step. The group update must equal an optimizer per parameter.
void check_group_equals_one_at_a_time(const MakeOptimizer& make) {
  const std::vector<Shape> shapes = {{1}, {5, 3}, {40000}, {70001}, {3}, {256, 400}, {2}};
  Generator gen(3);
  std::vector<Tensor> together, alone;
  std::vector<std::unique_ptr<Optimizer>> singles;
  for (const Shape& s : shapes) {
    Tensor p = normal(s, 0, 1, gen);
    together.push_back(p.clone().set_requires_grad(true));
    alone.push_back(p.clone().set_requires_grad(true));
    singles.push_back(make({alone.back()}));
  }
  auto group = make(together);
  for (int step = 0; step < 4; ++step) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const bool skip = (i == 1 && step == 0) || (i == 4 && step == 2);
      Tensor g = skip ? Tensor() : normal(shapes[i], 0, 1, gen);
      together[i].set_grad(g);
      alone[i].set_grad(g.defined() ? g.clone() : g);
    }
    OpCounter counter;
    group->step();
    // Parameters whose buffers are at a different stage (SGD's first momentum step, Adam's step
    // count) form groups of their own; there are at most two here.
    const uint64_t calls = counter.counts().ops - (counter.counts().by_name.count("fill") ? counter.counts().by_name.at("fill") : 0);
    EXPECT_GE(calls, 1u);
    EXPECT_LE(calls, 2u) << group->name() << " step " << step;
    for (auto& o : singles) o->step();
  }
  for (size_t i = 0; i < shapes.size(); ++i)
    EXPECT_TRUE(all_close(together[i], alone[i], 1e-6, 1e-7, group->name() + " parameter " + std::to_string(i)));
}

}  // namespace

TEST(Optimizer, GroupUpdateEqualsOneParameterAtATime) {
  check_group_equals_one_at_a_time([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1); });
  check_group_equals_one_at_a_time([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1, 0.9, 0.1, 1e-2); });
  check_group_equals_one_at_a_time([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1, 0.9, 0.0, 0.0, true); });
  check_group_equals_one_at_a_time([](std::vector<Tensor> p) { return std::make_unique<Adam>(p, 0.01, 0.9, 0.999, 1e-8, 1e-2); });
  check_group_equals_one_at_a_time([](std::vector<Tensor> p) { return std::make_unique<AdamW>(p, 0.01); });
  check_group_equals_one_at_a_time([](std::vector<Tensor> p) { return std::make_unique<RMSprop>(p, 0.016, 0.9, 0.9, 1e-3, 1e-5); });
  check_group_equals_one_at_a_time([](std::vector<Tensor> p) { return std::make_unique<RMSprop>(p, 0.016, 0.9, 0.0); });
}

TEST(Optimizer, OneUpdateCallPerDtypeAndDevice) {
  // 100 float32 and 3 float64 parameters: two backend calls per step, however many tensors.
  Generator gen(4);
  std::vector<Tensor> params;
  for (int i = 0; i < 100; ++i) params.push_back(normal({7}, 0, 1, gen).set_requires_grad(true));
  for (int i = 0; i < 3; ++i) params.push_back(normal({7}, 0, 1, gen, DType::Float64).set_requires_grad(true));
  SGD opt(params, 0.1, 0.9);
  for (int step = 0; step < 2; ++step) {
    for (const Tensor& p : params) p.set_grad(ones_like(p));
    OpCounter counter;
    opt.step();
    EXPECT_EQ(counter.counts().ops, 2u) << "step " << step;
    EXPECT_EQ(counter.counts().by_name.at("sgd_update"), 2u);
  }
}

// ---- weight average -------------------------------------------------------------------------------

TEST(WeightAverage, WarmUpThenTheGivenDecay) {
  ExponentialMovingAverage ema({{"w", param({1.0})}}, 0.9);
  EXPECT_DOUBLE_EQ(ema.decay_at(0), 0.1);        // (1 + 0) / (10 + 0)
  EXPECT_DOUBLE_EQ(ema.decay_at(1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(ema.decay_at(80), 0.9);       // 81 / 90 = 0.9 exactly: the cap
  EXPECT_DOUBLE_EQ(ema.decay_at(1000), 0.9);
  EXPECT_ERROR_HAS(ExponentialMovingAverage({{"w", param({1.0})}}, 1.0), "decay must be in [0, 1)");
  EXPECT_ERROR_HAS(ExponentialMovingAverage({{"n", from_vector<int64_t>({1}, {1})}}, 0.5), "'n' is not a float tensor");
  EXPECT_ERROR_HAS(ExponentialMovingAverage({{"a", param({1.0})}, {"b", ones({1})}}, 0.5), "one dtype and device");
}

TEST(WeightAverage, UpdatesAsHandComputedAndSwapsInPlace) {
  Tensor a = param({1.0, -2.0}), b = param({4.0});
  ExponentialMovingAverage ema({{"a", a}, {"b", b}}, 0.5);
  // Starts as a copy; the sources then move, and each update blends with decay_t.
  a.detach().copy_(from_vector<double>({3.0, 2.0}, {2}));
  b.detach().copy_(from_vector<double>({0.0}, {1}));
  OpCounter counter;
  ema.update();  // decay_0 = 0.1: avg = 0.1 avg + 0.9 x
  EXPECT_EQ(counter.counts().by_name.at("ema_update"), 1u) << "one backend call for both tensors";
  expect_values(ema.averages()[0].second, {0.1 * 1 + 0.9 * 3, 0.1 * -2 + 0.9 * 2}, "a after one update");
  expect_values(ema.averages()[1].second, {0.1 * 4 + 0.9 * 0}, "b after one update");
  ema.update();  // decay_1 = 2/11, then capped at 0.5 from t = 8 on
  const double d1 = 2.0 / 11.0;
  expect_values(ema.averages()[0].second, {d1 * 2.8 + (1 - d1) * 3, d1 * 1.6 + (1 - d1) * 2}, "a after two");
  EXPECT_EQ(ema.updates(), 2);

  const std::vector<double> avg_a = ema.averages()[0].second.to_vector<double>();
  const uint64_t version = a.version();
  ema.swap();  // the model's handle now holds the average, the average the trained values
  expect_values(a, avg_a, "source after swap");
  expect_values(ema.averages()[0].second, {3.0, 2.0}, "average after swap");
  EXPECT_GT(a.version(), version) << "a swap must invalidate caches built from the weights";
  ema.swap();
  expect_values(a, {3.0, 2.0}, "source after swapping back");
  expect_values(ema.averages()[0].second, avg_a, "average after swapping back");
}

TEST(WeightAverage, StateRestoresExactlyAndMismatchesChangeNothing) {
  Tensor a = param({1.0, 2.0});
  ExponentialMovingAverage ema({{"a", a}}, 0.99);
  for (int i = 0; i < 3; ++i) {
    a.detach().add_(ones_like(a));
    ema.update();
  }
  Tensor b = param({1.0, 2.0});
  ExponentialMovingAverage resumed({{"a", b}}, 0.99);
  resumed.load_state({{"a", ema.averages()[0].second.clone()}}, ema.updates());
  EXPECT_EQ(resumed.updates(), 3);
  b.detach().copy_(a);
  a.detach().add_(ones_like(a));
  b.detach().add_(ones_like(b));
  ema.update();
  resumed.update();  // the same decay_3, so the same values to the bit
  EXPECT_EQ(resumed.averages()[0].second.to_vector<double>(), ema.averages()[0].second.to_vector<double>());

  const std::vector<double> before = resumed.averages()[0].second.to_vector<double>();
  EXPECT_ERROR_HAS(resumed.load_state({{"a", from_vector<double>({1, 2, 3}, {3})}}, 1), "'a' has shape");
  EXPECT_ERROR_HAS(resumed.load_state({{"z", from_vector<double>({1, 2}, {2})}}, 1), "no value for 'a'");
  EXPECT_ERROR_HAS(resumed.load_state({}, 1), "0 tensors given for 1");
  EXPECT_ERROR_HAS(resumed.load_state({{"a", b}, {"a", b}}, 1), "'a' is given twice");
  EXPECT_ERROR_HAS(resumed.load_state({{"a", b}}, -1), "negative");
  EXPECT_EQ(resumed.averages()[0].second.to_vector<double>(), before);
  EXPECT_EQ(resumed.updates(), 4);
}

// ---- CPU vs CUDA ----------------------------------------------------------------------------------

namespace {

// The same float32 parameters and gradients on both devices, six steps (lr changed half way),
// then parameters and every state buffer compared.
void check_cuda_matches_cpu(const MakeOptimizer& make) {
  Generator gen(11);
  // More tensors than one launch takes (64), and one longer than its blocks cover in one pass
  // (1024 blocks of 256), so that both the split into launches and the striding run.
  std::vector<Shape> shapes = {{37, 5}, {300}, {1}, {600, 700}};
  for (int i = 0; i < 66; ++i) shapes.push_back({int64_t(1 + i % 9)});
  std::vector<Tensor> cpu_params, cuda_params;
  for (const Shape& s : shapes) {
    Tensor p = normal(s, 0, 1, gen);
    cpu_params.push_back(p.clone().set_requires_grad(true));
    cuda_params.push_back(p.to(Device::cuda()).set_requires_grad(true));
  }
  auto cpu_opt = make(cpu_params), cuda_opt = make(cuda_params);
  for (int step = 0; step < 6; ++step) {
    if (step == 3) {
      cpu_opt->set_lr(cpu_opt->lr() * 0.5);
      cuda_opt->set_lr(cuda_opt->lr() * 0.5);
    }
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (i == 2 && step < 2) continue;  // one parameter starts late
      Tensor g = normal(shapes[i], 0, 1, gen);
      cpu_params[i].set_grad(g);
      cuda_params[i].set_grad(g.to(Device::cuda()));
    }
    cpu_opt->step();
    cuda_opt->step();
  }
  for (size_t i = 0; i < shapes.size(); ++i)
    EXPECT_TRUE(all_close(cuda_params[i], cpu_params[i], 1e-5, 1e-6, cpu_opt->name() + " parameter " + std::to_string(i)));
  NamedTensors a = cuda_opt->state(), b = cpu_opt->state();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    if (a[i].second.dtype() != DType::Int64) {
      EXPECT_TRUE(a[i].second.is_cuda()) << a[i].first;
      EXPECT_TRUE(all_close(a[i].second, b[i].second, 1e-5, 1e-6, a[i].first));
    }
  }
}

}  // namespace

TEST(SGD, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  check_cuda_matches_cpu([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1); });
  check_cuda_matches_cpu([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1, 0.9, 0.1, 1e-2); });
  check_cuda_matches_cpu([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.1, 0.9, 0.0, 1e-2, true); });
}

TEST(Adam, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  check_cuda_matches_cpu([](std::vector<Tensor> p) { return std::make_unique<Adam>(p, 0.01, 0.9, 0.999, 1e-8, 1e-2); });
}

TEST(AdamW, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  check_cuda_matches_cpu([](std::vector<Tensor> p) { return std::make_unique<AdamW>(p, 0.01); });
}

TEST(RMSprop, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  check_cuda_matches_cpu([](std::vector<Tensor> p) { return std::make_unique<RMSprop>(p, 0.016, 0.9, 0.9, 1e-3, 1e-5); });
  check_cuda_matches_cpu([](std::vector<Tensor> p) { return std::make_unique<RMSprop>(p, 0.016, 0.9, 0.0); });
}

TEST(WeightAverage, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  // As for the optimizers: more tensors than one launch takes and one longer than a pass covers.
  Generator gen(12);
  std::vector<Shape> shapes = {{600, 700}, {3}};
  for (int i = 0; i < 66; ++i) shapes.push_back({int64_t(1 + i % 9)});
  NamedTensors cpu, gpu;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Tensor t = normal(shapes[i], 0, 1, gen);
    cpu.emplace_back(std::to_string(i), t.clone());
    gpu.emplace_back(std::to_string(i), t.to(Device::cuda()));
  }
  ExponentialMovingAverage cpu_ema(cpu, 0.9), gpu_ema(gpu, 0.9);
  for (int step = 0; step < 4; ++step) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      Tensor x = normal(shapes[i], 0, 1, gen);
      cpu[i].second.copy_(x);
      gpu[i].second.copy_(x);
    }
    cpu_ema.update();
    gpu_ema.update();
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    EXPECT_TRUE(gpu_ema.averages()[i].second.is_cuda());
    EXPECT_TRUE(all_close(gpu_ema.averages()[i].second, cpu_ema.averages()[i].second, 1e-6, 1e-6, "average " + std::to_string(i)));
  }
}

TEST(Optimizer, StateMovesBetweenDevicesCuda) {
  EFFNET_REQUIRE_CUDA();
  // State saved on the GPU restores into a CPU optimizer (and back): load_state copies each
  // buffer onto its parameter's device.
  Generator gen(21);
  Tensor p = normal({64}, 0, 1, gen);
  Tensor gpu_p = p.to(Device::cuda()).set_requires_grad(true);
  Adam gpu_opt({gpu_p}, 0.01);
  for (int s = 0; s < 3; ++s) {
    gpu_p.set_grad(normal({64}, 0, 1, gen).to(Device::cuda()));
    gpu_opt.step();
  }
  Tensor cpu_p = gpu_p.detach().to(Device::cpu()).set_requires_grad(true);
  Adam cpu_opt({cpu_p}, 0.01);
  cpu_opt.load_state(gpu_opt.state());
  EXPECT_FALSE(entry(cpu_opt.state(), "exp_avg.0").is_cuda());
  Tensor g = normal({64}, 0, 1, gen);
  gpu_p.set_grad(g.to(Device::cuda()));
  cpu_p.set_grad(g);
  gpu_opt.step();
  cpu_opt.step();
  EXPECT_TRUE(all_close(gpu_p, cpu_p, 1e-5, 1e-6, "parameter after resuming on the CPU"));
  Adam back({gpu_p}, 0.01);
  back.load_state(cpu_opt.state());
  EXPECT_TRUE(entry(back.state(), "exp_avg_sq.0").is_cuda());
}
