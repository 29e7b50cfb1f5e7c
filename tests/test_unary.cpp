// Element-wise unary functions and activations: values against std::, boundary gradients,
// saved-tensor choices, gradient checks, extreme inputs, bad input, the CPU's vectorised loops
// against the shared per-element formulas, the branch-free float exp and sigmoid, and CPU-vs-CUDA
// agreement.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "framework/core/hd_math.h"
#include "framework/framework.h"
#include "framework/ops/unary.h"
#include "framework/ops/unary_kernels.h"
#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Applies f to a float64 tensor holding xs and compares element-wise with ref(x).
template <class Fn, class Ref>
void expect_values(Fn f, Ref ref, const std::vector<double>& xs, const char* what) {
  Tensor x = from_vector<double>(xs, {int64_t(xs.size())});
  std::vector<double> got = f(x).template to_vector<double>();
  ASSERT_EQ(got.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_NEAR(got[i], ref(xs[i]), 1e-12 * std::max(1.0, std::abs(ref(xs[i])))) << what << "(" << xs[i] << ")";
  // float32 follows the same formulas to float precision.
  Tensor xf = from_vector<float>(std::vector<float>(xs.begin(), xs.end()), {int64_t(xs.size())});
  std::vector<float> gotf = f(xf).template to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_NEAR(gotf[i], ref(double(float(xs[i]))), 1e-6 * std::max(1.0, std::abs(ref(xs[i]))))
        << what << "(" << xs[i] << ") float32";
}

// d(sum(f(x)))/dx for a float64 tensor holding xs.
template <class Fn>
std::vector<double> grad_of(Fn f, const std::vector<double>& xs) {
  Tensor x = from_vector<double>(xs, {int64_t(xs.size())}).set_requires_grad(true);
  sum(f(x)).backward();
  return x.grad().to_vector<double>();
}

}  // namespace

TEST(Unary, ValuesMatchStd) {
  std::vector<double> any = {-3.5, -1.0, -0.25, 0.0, 0.5, 2.0, 7.25};
  std::vector<double> positive = {0.01, 0.3, 1.0, 2.5, 9.0};
  expect_values([](const Tensor& x) { return effnet::exp(x); }, [](double v) { return std::exp(v); }, any, "exp");
  expect_values([](const Tensor& x) { return effnet::log(x); }, [](double v) { return std::log(v); }, positive, "log");
  expect_values([](const Tensor& x) { return effnet::sqrt(x); }, [](double v) { return std::sqrt(v); }, positive,
                "sqrt");
  expect_values([](const Tensor& x) { return effnet::pow(x, 2.5); }, [](double v) { return std::pow(v, 2.5); },
                positive, "pow 2.5");
  expect_values([](const Tensor& x) { return effnet::pow(x, 3.0); }, [](double v) { return std::pow(v, 3.0); }, any,
                "pow 3");
  expect_values([](const Tensor& x) { return effnet::pow(x, -1.0); }, [](double v) { return 1.0 / v; }, positive,
                "pow -1");
  expect_values([](const Tensor& x) { return clamp(x, -1.0, 2.0); },
                [](double v) { return std::min(std::max(v, -1.0), 2.0); }, any, "clamp");
  expect_values([](const Tensor& x) { return sigmoid(x); }, ref_sigmoid, any, "sigmoid");
  expect_values([](const Tensor& x) { return relu(x); }, [](double v) { return std::max(v, 0.0); }, any, "relu");
  expect_values([](const Tensor& x) { return relu6(x); }, [](double v) { return std::min(std::max(v, 0.0), 6.0); },
                any, "relu6");
  expect_values([](const Tensor& x) { return silu(x); }, [](double v) { return v * ref_sigmoid(v); }, any, "silu");
}

TEST(Unary, HandComputedValues) {
  Tensor x = from_vector<float>({-2, 0, 3, 6, 8}, {5});
  EXPECT_EQ(relu6(x).to_vector<float>(), (std::vector<float>{0, 0, 3, 6, 6}));
  EXPECT_EQ(relu(x).to_vector<float>(), (std::vector<float>{0, 0, 3, 6, 8}));
  EXPECT_EQ(clamp(x, 0.5, 4.0).to_vector<float>(), (std::vector<float>{0.5f, 0.5f, 3, 4, 4}));
  EXPECT_EQ(sigmoid(from_vector<float>({0}, {1})).item(), 0.5);
  EXPECT_EQ(silu(from_vector<float>({0}, {1})).item(), 0.0);
  EXPECT_EQ(effnet::pow(from_vector<float>({3}, {1}), 2.0).item(), 9.0);
  EXPECT_EQ(effnet::sqrt(from_vector<float>({16}, {1})).item(), 4.0);
  // Shape is kept.
  EXPECT_EQ(effnet::exp(zeros({2, 3, 4})).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(effnet::exp(zeros({0, 3})).numel(), 0);
}

TEST(Unary, SwishIsSilu) {
  Tensor x = normal({4, 5}, 0, 3);
  EXPECT_TRUE(all_close(swish(x), silu(x), 0, 0));
  EXPECT_TRUE(all_close(swish(x), mul(x, sigmoid(x)), 1e-6, 1e-7));
}

TEST(Unary, NanPropagates) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = from_vector<double>({nan}, {1});
  for (Tensor y : {relu(x), relu6(x), clamp(x, -1, 1), sigmoid(x), silu(x), effnet::exp(x)})
    EXPECT_TRUE(std::isnan(y.item()));
}

// The conventions at the points where the derivative jumps (PyTorch's).
TEST(Unary, GradientAtBoundaries) {
  auto relu_g = grad_of([](const Tensor& x) { return relu(x); }, {-1, 0, 2});
  EXPECT_EQ(relu_g, (std::vector<double>{0, 0, 1}));
  auto relu6_g = grad_of([](const Tensor& x) { return relu6(x); }, {-1, 0, 3, 6, 7});
  EXPECT_EQ(relu6_g, (std::vector<double>{0, 0, 1, 0, 0}));
  auto clamp_g = grad_of([](const Tensor& x) { return clamp(x, -1, 2); }, {-1.5, -1, 0, 2, 2.5});
  EXPECT_EQ(clamp_g, (std::vector<double>{0, 1, 1, 1, 0}));
  // pow with exponent 0 has gradient 0, also at x = 0 where p·x^(p-1) would be 0·inf.
  auto pow0_g = grad_of([](const Tensor& x) { return effnet::pow(x, 0.0); }, {0, 2});
  EXPECT_EQ(pow0_g, (std::vector<double>{0, 0}));
}

TEST(Unary, HandComputedGradients) {
  auto g = grad_of([](const Tensor& x) { return sigmoid(x); }, {0});
  EXPECT_DOUBLE_EQ(g[0], 0.25);
  g = grad_of([](const Tensor& x) { return silu(x); }, {0, 1});
  EXPECT_DOUBLE_EQ(g[0], 0.5);
  double s1 = ref_sigmoid(1.0);
  EXPECT_NEAR(g[1], s1 * (1 + (1 - s1)), 1e-15);
  g = grad_of([](const Tensor& x) { return effnet::pow(x, 3.0); }, {2});
  EXPECT_DOUBLE_EQ(g[0], 12.0);
  g = grad_of([](const Tensor& x) { return effnet::sqrt(x); }, {4});
  EXPECT_DOUBLE_EQ(g[0], 0.25);
  g = grad_of([](const Tensor& x) { return effnet::log(x); }, {4});
  EXPECT_DOUBLE_EQ(g[0], 0.25);
  g = grad_of([](const Tensor& x) { return effnet::exp(x); }, {1});
  EXPECT_DOUBLE_EQ(g[0], std::exp(1.0));
}

// sigmoid's backward reads its output, swish's its input: changing the one that is not saved
// in place must leave backward working, changing the saved one must be caught.
TEST(Unary, SavedTensors) {
  {
    Tensor x = grad_input({6});
    Tensor y = silu(x);
    y.mul_(2.0);  // y is not saved by silu
    EXPECT_NO_THROW(sum(y).backward());
    Tensor xd = x.detach();
    Tensor s = sigmoid(xd);
    EXPECT_TRUE(all_close(x.grad(), mul(s, add(mul(xd, rsub(1.0, s)), 1.0)), 1e-12, 1e-14));
  }
  {
    Tensor x = grad_input({6});
    Tensor y = sigmoid(x);
    y.mul_(2.0);  // y is what sigmoid saved
    EXPECT_THROW(sum(y).backward(), Error);
  }
  {
    Tensor x = grad_input({6});
    Tensor y = effnet::log(add(x, 2.0));  // log saves its input, not y
    y.mul_(2.0);
    EXPECT_NO_THROW(sum(y).backward());
  }
  // No graph is recorded when nothing requires grad.
  EXPECT_EQ(relu(ones({3})).grad_fn(), nullptr);
  Tensor x = grad_input({3});
  EXPECT_STREQ(relu(x).grad_fn()->name(), "ReluBackward");
  EXPECT_STREQ(swish(x).grad_fn()->name(), "SiluBackward");
}

TEST(Unary, ExtremeInputsStayFinite) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor x = from_vector<double>({-1000, -100, -30, 30, 100, 1000}, {6}).to(dt).set_requires_grad(true);
    Tensor s = sigmoid(x), w = silu(x);
    std::vector<double> sv = s.to_vector<double>(), wv = w.to_vector<double>();
    for (size_t i = 0; i < sv.size(); ++i) {
      EXPECT_TRUE(std::isfinite(sv[i]) && sv[i] >= 0 && sv[i] <= 1) << dtype_name(dt) << " sigmoid " << sv[i];
      EXPECT_TRUE(std::isfinite(wv[i])) << dtype_name(dt) << " silu " << wv[i];
    }
    EXPECT_EQ(sv[5], 1.0);
    EXPECT_EQ(wv[4], 100.0);
    EXPECT_LE(std::abs(wv[1]), 1e-38);
    sum(add(s, w)).backward();
    std::vector<double> gv = x.grad().to_vector<double>();
    for (double v : gv) EXPECT_TRUE(std::isfinite(v)) << dtype_name(dt) << " gradient " << v;
    EXPECT_EQ(gv[5], 1.0);  // sigmoid' = 0, silu' = 1 far right
    EXPECT_LE(std::abs(gv[0]), 1e-38);
  }
  // The stable form keeps the tiny left tail that 1/(1 + e^-x) loses to e^100 = inf in float32.
  double tail = sigmoid(from_vector<float>({-100}, {1})).item();
  EXPECT_GT(tail, 0.0);
  EXPECT_NEAR(tail, std::exp(-100.0), 0.1 * std::exp(-100.0));
  double tail64 = sigmoid(from_vector<double>({-700}, {1})).item();
  EXPECT_NEAR(tail64, std::exp(-700.0), 1e-12 * std::exp(-700.0));
}

TEST(Unary, BadInputThrows) {
  Tensor idx = randint(0, 5, {4});
  using Fn = Tensor (*)(const Tensor&);
  std::vector<std::pair<const char*, Fn>> ops = {
      {"exp", [](const Tensor& x) { return effnet::exp(x); }},
      {"log", [](const Tensor& x) { return effnet::log(x); }},
      {"sqrt", [](const Tensor& x) { return effnet::sqrt(x); }},
      {"pow", [](const Tensor& x) { return effnet::pow(x, 2.0); }},
      {"clamp", [](const Tensor& x) { return clamp(x, 0, 1); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"relu6", [](const Tensor& x) { return relu6(x); }},
      {"silu", [](const Tensor& x) { return swish(x); }},
  };
  for (auto& [name, fn] : ops) {
    try {
      fn(idx);
      ADD_FAILURE() << name << " accepted an int64 tensor";
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(std::string(name) + ":"), std::string::npos) << m;
      EXPECT_NE(m.find("int64"), std::string::npos) << m;
    }
  }
  EXPECT_THROW(clamp(zeros({2}), 1.0, -1.0), Error);
  EXPECT_THROW(clamp(zeros({2}), std::nan(""), 1.0), Error);
  EXPECT_THROW(relu(Tensor()), Error);
}

// ---- gradient checks and CPU-vs-CUDA, one case per op ----------------------------------------------
struct UnaryCase : NamedCase {
  Tensor (*fn)(const Tensor&);
  double low, high;  // input range
  std::vector<double> kinks;
};

class UnaryGrad : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryGrad, GradientCheck) {
  const UnaryCase& c = GetParam();
  Tensor x = grad_input({3, 4, 5}, c.low, c.high, 11);
  GradCheckOptions opts;
  opts.kinks = c.kinks;
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return c.fn(in[0]); }, {x}, opts));
}

TEST_P(UnaryGrad, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const UnaryCase& c = GetParam();
  Generator g(5);
  // Sizes that leave the last 256-thread block partial, one small and one over many blocks.
  for (Shape shape : {Shape{37, 129}, Shape{3, 100003}}) {
    Tensor x = uniform(shape, c.low, c.high, g).set_requires_grad(true);
    EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return c.fn(in[0]); }, {x}))
        << c.name << " " << shape_str(shape);
  }
  // float64 runs on the GPU too.
  Tensor xd = uniform({65}, c.low, c.high, g, DType::Float64);
  EXPECT_TRUE(all_close(c.fn(xd.to(Device::cuda())), c.fn(xd), 1e-12, 1e-14)) << c.name << " float64";
}

Tensor exp_fn(const Tensor& x) { return effnet::exp(x); }
Tensor log_fn(const Tensor& x) { return effnet::log(x); }
Tensor sqrt_fn(const Tensor& x) { return effnet::sqrt(x); }
Tensor pow_half_fn(const Tensor& x) { return effnet::pow(x, 2.5); }
Tensor pow_neg_fn(const Tensor& x) { return effnet::pow(x, -1.5); }
Tensor pow_int_fn(const Tensor& x) { return effnet::pow(x, 3.0); }
Tensor clamp_fn(const Tensor& x) { return clamp(x, -0.5, 0.75); }
Tensor sigmoid_fn(const Tensor& x) { return sigmoid(x); }
Tensor relu_fn(const Tensor& x) { return relu(x); }
Tensor relu6_fn(const Tensor& x) { return relu6(x); }
Tensor swish_fn(const Tensor& x) { return swish(x); }

INSTANTIATE_TEST_SUITE_P(
    Ops, UnaryGrad,
    ::testing::Values(UnaryCase{"exp", exp_fn, -2, 2, {}}, UnaryCase{"log", log_fn, 0.2, 3, {}},
                      UnaryCase{"sqrt", sqrt_fn, 0.2, 3, {}}, UnaryCase{"pow_2_5", pow_half_fn, 0.2, 2, {}},
                      UnaryCase{"pow_neg_1_5", pow_neg_fn, 0.3, 2, {}}, UnaryCase{"pow_3", pow_int_fn, 0.2, 2, {}},
                      UnaryCase{"clamp", clamp_fn, -1, 1, {-0.5, 0.75}},
                      UnaryCase{"sigmoid", sigmoid_fn, -6, 6, {}}, UnaryCase{"relu", relu_fn, -1, 1, {0}},
                      UnaryCase{"relu6", relu6_fn, -2, 8, {0, 6}}, UnaryCase{"swish", swish_fn, -6, 6, {}}),
    CaseName());

TEST(Unary, ExtremeInputsCudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Tensor x = from_vector<float>({-1000, -100, -88, -30, -1e-3f, 0, 1e-3f, 30, 88, 100, 1000}, {11})
                 .set_requires_grad(true);
  for (auto fn : {sigmoid_fn, swish_fn}) {
    EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return fn(in[0]); }, {x}));
    Tensor xg = x.detach().to(Device::cuda()).set_requires_grad(true);
    Tensor y = fn(xg);
    sum(y).backward();
    for (double v : y.to_vector<double>()) EXPECT_TRUE(std::isfinite(v)) << v;
    for (double v : xg.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v)) << v;
  }
}

// ---- the CPU's vectorised loops against the shared per-element formulas -----------------------------
// The CPU loops run the formulas of unary_kernels.h through parallel_for: threads, and an AVX2 + FMA
// copy where the CPU has it, which may contract a * b + c into one rounding. The CUDA kernels call
// the same formulas, so checking the loops against the formulas evaluated here, one element at a
// time in this file's plain (SSE2, never contracted) code, checks what both halves compute.
namespace {

// How many representable values lie between a and b (0 when equal, or both NaN; a huge value when
// exactly one is NaN or the signs differ).
template <class T>
int64_t ulp_distance(T a, T b) {
  constexpr int64_t kFar = std::numeric_limits<int64_t>::max();
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : kFar;
  if (a == b) return 0;
  if (std::signbit(a) != std::signbit(b)) return kFar;
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  auto ordered = [](T v) {  // bit patterns made monotonic over the reals
    Bits u;
    std::memcpy(&u, &v, sizeof u);
    return u < 0 ? int64_t(std::numeric_limits<Bits>::min()) - int64_t(u) : int64_t(u);
  };
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

// Inputs over the whole range of T: signed zeros, subnormals, the exp/sigmoid breakpoints (float
// overflow at 88.7, the branch-free exp's clamp at -104), huge values, infinities and NaN, then a
// dense sweep; 3·32768 + 11 elements, so that the loops split over threads and every chunk has an
// unaligned tail.
template <class T>
std::vector<T> wide_inputs() {
  using L = std::numeric_limits<T>;
  std::vector<T> v = {T(0), L::denorm_min(), L::min(), T(1e-30), T(1e-7), T(0.25), T(0.5), T(1), T(2.5), T(6),
                      T(10), T(30), T(87), T(88.7), T(89), T(103.9), T(104), T(105), T(200), T(1e10), T(1e30),
                      L::max(), L::infinity(), L::quiet_NaN()};
  for (size_t i = 0, n = v.size(); i < n; ++i) v.push_back(-v[i]);
  const size_t total = 3 * 32768 + 11;
  for (size_t i = 0; v.size() < total; ++i) {
    const double t = double(i) / double(total);
    v.push_back(T(i % 2 ? -1 : 1) * T(std::pow(10.0, -8.0 + 11.0 * t)));  // |x| from 1e-8 to 1e3
    v.push_back(T(-120.0 + 240.0 * t));
  }
  v.resize(total);
  return v;
}

struct UnaryFormulaCase {
  UnaryOp op;
  UnaryArgs args;
  const char* name;
};

const UnaryFormulaCase kFormulaCases[] = {
    {UnaryOp::Exp, {}, "exp"},        {UnaryOp::Log, {}, "log"},
    {UnaryOp::Sqrt, {}, "sqrt"},      {UnaryOp::Pow, {2.5, 0}, "pow 2.5"},
    {UnaryOp::Pow, {-1.5, 0}, "pow -1.5"}, {UnaryOp::Pow, {3, 0}, "pow 3"},
    {UnaryOp::Clamp, {-0.5, 0.75}, "clamp"}, {UnaryOp::Sigmoid, {}, "sigmoid"},
    {UnaryOp::Relu, {}, "relu"},      {UnaryOp::Relu6, {}, "relu6"},
    {UnaryOp::Silu, {}, "silu"},
};

// Whether the CPU loop's value `got` matches the formula's `want`: within max_ulp, or, for silu,
// within the rounding of the terms it is made of. silu's fused multiply-adds may round once where
// the formula rounds twice; that is a few ulp of the terms, which is many ulp of the result where
// they cancel (the backward's 1 + x·(1 - σ) near x = -1.28) or where σ is subnormal and so has
// fewer bits (below x = -85). `terms` bounds the magnitude of those terms.
template <class T>
bool close_enough(T got, T want, int64_t max_ulp, T terms) {
  return ulp_distance(got, want) <= max_ulp ||
         std::abs(got - want) <= T(max_ulp) * std::numeric_limits<T>::epsilon() * terms;
}

// The CPU loops against the per-element formulas, forward and backward, over wide_inputs
// (backward: g from a fixed sweep in [-2, 2], s the wide inputs); NaN must match NaN.
template <class T>
void expect_loops_match_formulas(int64_t max_ulp) {
  const std::vector<T> xs = wide_inputs<T>();
  const int64_t n = int64_t(xs.size());
  std::vector<T> gs(xs.size());
  for (size_t i = 0; i < gs.size(); ++i) gs[i] = T(-2.0 + 4.0 * double((i * 7919) % 1000) / 999.0);
  const Tensor x = from_vector<T>(xs, {n}), g = from_vector<T>(gs, {n});
  for (const UnaryFormulaCase& c : kFormulaCases) {
    Tensor y = Tensor::empty({n}, x.dtype()), dx = Tensor::empty({n}, x.dtype());
    cpu::unary(c.op, c.args, x, y);
    cpu::unary_backward(c.op, c.args, g, x, dx);
    const std::vector<T> yv = y.to_vector<T>(), dxv = dx.to_vector<T>();
    const T a = T(c.args.a), b = T(c.args.b);
    dispatch_unary(c.op, [&](auto op_tag) {
      constexpr UnaryOp OP = decltype(op_tag)::value;
      for (size_t i = 0; i < xs.size(); ++i) {
        const T xi = xs[i], gi = gs[i];
        // silu's terms: x·σ(x) and g·σ·(1 + |x·(1 - σ)|), where the partial results σ and g·σ
        // carry the rounding of their own magnitude, but no less than that of the smallest normal
        // (below it they are subnormal).
        const T tiny = std::numeric_limits<T>::min(), sg = stable_sigmoid(xi);
        const T fwd_terms = OP == UnaryOp::Silu ? std::abs(xi) * std::max(sg, tiny) : T(0);
        const T partials = std::abs(gi) * std::max(sg, tiny) + std::max(std::abs(gi) * sg, tiny);
        const T back_terms = OP == UnaryOp::Silu ? partials * (1 + std::abs(xi * (1 - sg))) : T(0);
        const T want = unary_forward<T, OP>(xi, a, b), want_back = unary_backward_element<T, OP>(gi, xi, a, b);
        EXPECT_TRUE(close_enough(yv[i], want, max_ulp, fwd_terms))
            << c.name << "(" << xi << ") = " << yv[i] << ", formula " << want;
        EXPECT_TRUE(close_enough(dxv[i], want_back, max_ulp, back_terms))
            << c.name << " backward(g = " << gi << ", s = " << xi << ") = " << dxv[i] << ", formula " << want_back;
      }
    });
  }
}

}  // namespace

TEST(Unary, FloatLoopsMatchTheSharedFormulas) { expect_loops_match_formulas<float>(2); }
TEST(Unary, DoubleLoopsMatchTheSharedFormulas) { expect_loops_match_formulas<double>(2); }

// The branch-free float exp and sigmoid that both backends use: e^x within 2 ulp of the correctly
// rounded value over [-104, 0] (into the subnormal range), NaN through, 0 below; the sigmoid within
// a few ulp of the double reference over the whole line.
TEST(Unary, BranchFreeExpAndSigmoidAreAccurate) {
  int64_t worst = 0;
  for (int i = 0; i <= 400000; ++i) {
    const float x = -104.0f * float(i) / 400000.0f;
    const float ref = float(std::exp(double(x)));
    const int64_t d = ulp_distance(hd_math::exp_nonpositive(x), ref);
    worst = std::max(worst, d);
    ASSERT_LE(d, 2) << "exp_nonpositive(" << x << ") = " << hd_math::exp_nonpositive(x) << ", want " << ref;
  }
  RecordProperty("exp_nonpositive ulp", std::to_string(worst));
  EXPECT_TRUE(std::isnan(hd_math::exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(hd_math::exp_nonpositive(-1000.0f), 0.0f);
  EXPECT_EQ(hd_math::exp_nonpositive(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(hd_math::exp_nonpositive(0.0f), 1.0f);
  EXPECT_GT(hd_math::exp_nonpositive(-103.0f), 0.0f);  // the subnormal tail comes out gradually

  for (int i = 0; i <= 200000; ++i) {
    const float x = -120.0f + 240.0f * float(i) / 200000.0f;
    const float ref = float(ref_sigmoid(double(x)));
    ASSERT_LE(ulp_distance(hd_math::sigmoid(x), ref), 4) << "sigmoid(" << x << ") = " << hd_math::sigmoid(x);
  }
  EXPECT_TRUE(std::isnan(hd_math::sigmoid(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(hd_math::sigmoid(std::numeric_limits<float>::infinity()), 1.0f);
  EXPECT_EQ(hd_math::sigmoid(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(hd_math::select(true, 1.5f, -2.0f), 1.5f);
  EXPECT_EQ(hd_math::select(false, 1.5f, -2.0f), -2.0f);
}
