// Element-wise arithmetic and reductions: values, broadcasting errors, the CPU's broadcast and
// vectorised loops against the shared per-element formulas, gradient checks and CPU-vs-CUDA
// agreement.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "framework/framework.h"
#include "framework/ops/binary_kernels.h"
#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

TEST(Binary, BroadcastValues) {
  Tensor a = arange(6).reshape({2, 3});
  Tensor b = from_vector<float>({10, 20, 30}, {3});
  EXPECT_EQ(add(a, b).to_vector<float>(), (std::vector<float>{10, 21, 32, 13, 24, 35}));
  Tensor c = from_vector<float>({2, 4}, {2, 1});
  EXPECT_EQ(div(a, c).to_vector<float>(), (std::vector<float>{0, 0.5f, 1, 0.75f, 1, 1.25f}));
  EXPECT_EQ(sub(a, 1.0).to_vector<float>()[0], -1.0f);
  EXPECT_EQ((2.0 - a).to_vector<float>()[5], -3.0f);
}

TEST(Binary, MismatchedShapesNameBoth) {
  try {
    add(zeros({2, 3}), zeros({4}));
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  }
  EXPECT_THROW(add(zeros({2}), zeros({2}, DType::Float64)), Error);
}

// ---- the CPU's loops against the shared per-element formulas -------------------------------------
// The CPU walks a collapsed broadcast plan with row loops of their own for the common stride
// patterns (and an AVX2 copy); the CUDA kernel unravels every element against the same plan. Each
// output is checked against binary_element of the two inputs that NumPy broadcasting pairs it
// with, found here by a plain unravel of the output index over the uncollapsed shapes. One IEEE
// operation per element, so the match is exact.
namespace {

// The element of `in` (shape `s`, right-aligned against `out`) that output index i reads.
int64_t broadcast_source(const Shape& out, const Shape& s, int64_t i) {
  int64_t offset = 0, stride = 1;
  for (int d = int(out.size()) - 1, k = int(s.size()) - 1; d >= 0; --d, --k) {
    const int64_t idx = i % out[size_t(d)];
    i /= out[size_t(d)];
    if (k >= 0) {
      if (s[size_t(k)] != 1) offset += idx * stride;
      stride *= s[size_t(k)];
    }
  }
  return offset;
}

template <class T>
void expect_binary_matches_formulas(const Shape& as, const Shape& bs) {
  Generator gen(17);
  const Tensor a = uniform(as, -3.0, 3.0, gen, dtype_of<T>::value);
  const Tensor b = uniform(bs, 0.5, 2.0, gen, dtype_of<T>::value);  // away from 0: a divisor
  const std::vector<T> av = a.to_vector<T>(), bv = b.to_vector<T>();
  auto check = [&](auto op_tag, const Tensor& out) {
    constexpr BinaryOp OP = decltype(op_tag)::value;
    const std::vector<T> ov = out.to_vector<T>();
    for (int64_t i = 0; i < int64_t(ov.size()); ++i) {
      const T want = binary_element<T, OP>(av[size_t(broadcast_source(out.shape(), as, i))],
                                           bv[size_t(broadcast_source(out.shape(), bs, i))]);
      ASSERT_EQ(ov[size_t(i)], want) << "op " << int(OP) << " " << shape_str(as) << " with " << shape_str(bs)
                                     << " at " << i;
    }
  };
  using O = BinaryOp;
  check(std::integral_constant<O, O::Add>{}, add(a, b));
  check(std::integral_constant<O, O::Sub>{}, sub(a, b));
  check(std::integral_constant<O, O::Mul>{}, mul(a, b));
  check(std::integral_constant<O, O::Div>{}, div(a, b));
  const Shape out = broadcast_shapes("test", as, bs);
  if (out != bs) check(std::integral_constant<O, O::Right>{}, broadcast_to(b, out));
}

}  // namespace

TEST(Binary, CpuLoopsMatchTheSharedFormulas) {
  const std::vector<std::pair<Shape, Shape>> patterns = {
      {{70001}, {70001}},                 // same shape: the flat loop, threads and tails
      {{4, 24, 9, 11}, {4, 24, 1, 1}},    // squeeze-excitation: rows of H·W times a constant
      {{4, 24, 9, 11}, {24, 1, 1}},       // per-channel constant, repeated over the batch
      {{1, 33}, {65, 1}},                 // row times column: a stride-0 row against a constant
      {{65, 1}, {1, 33}},                 // the other way round
      {{37, 1029}, {1029}},               // a row repeated: both operands contiguous along rows
      {{6, 1, 9}, {1, 4, 9}},             // both stretched, along different dimensions
      {{2, 3, 4, 5}, {2, 1, 4, 1}},       // strided: no row pattern of its own
      {{1}, {33, 1025}},                  // a scalar against a matrix
      {{3, 1, 1, 7, 1}, {1, 5, 2, 1, 4}}, // rank 5, size-1 dimensions everywhere
  };
  for (const auto& [as, bs] : patterns) {
    expect_binary_matches_formulas<float>(as, bs);
    expect_binary_matches_formulas<double>(as, bs);
  }
}

// affine: x·scale + shift, which the AVX2 copy may fuse into one rounding; the formula here rounds
// twice, so the two may differ by the product's rounding.
TEST(Binary, AffineLoopMatchesTheSharedFormula) {
  Generator gen(23);
  const Tensor x = uniform({98317}, -4.0, 4.0, gen);
  const std::vector<float> xv = x.to_vector<float>();
  for (auto [scale, shift] : {std::pair<double, double>{0.7, -1.25}, {-3.0, 0.5}, {1.0 / 3.0, 0.0}}) {
    const std::vector<float> yv = affine(x, scale, shift).to_vector<float>();
    for (size_t i = 0; i < xv.size(); ++i) {
      const float want = affine_element(xv[i], float(scale), float(shift));
      const float tol = FLT_EPSILON * (std::abs(xv[i] * float(scale)) + std::abs(want));
      ASSERT_LE(std::abs(yv[i] - want), tol) << "affine(" << xv[i] << ", " << scale << ", " << shift << ")";
    }
  }
}

struct BinaryCase : NamedCase {
  Tensor (*fn)(const Tensor&, const Tensor&);
  Shape a, b;
};

class BinaryGrad : public ::testing::TestWithParam<BinaryCase> {};

TEST_P(BinaryGrad, GradientCheck) {
  const BinaryCase& c = GetParam();
  Tensor a = grad_input(c.a, -1, 1, 1), b = grad_input(c.b, 0.5, 2.0, 2);  // b away from 0 for div
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return c.fn(in[0], in[1]); }, {a, b}));
}

TEST_P(BinaryGrad, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const BinaryCase& c = GetParam();
  Generator g(3);
  Tensor a = uniform(c.a, -1, 1, g).set_requires_grad(true), b = uniform(c.b, 0.5, 2, g).set_requires_grad(true);
  EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return c.fn(in[0], in[1]); }, {a, b}));
}

Tensor add_fn(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor sub_fn(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor mul_fn(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor div_fn(const Tensor& a, const Tensor& b) { return div(a, b); }

INSTANTIATE_TEST_SUITE_P(
    Ops, BinaryGrad,
    ::testing::Values(BinaryCase{"add_same", add_fn, {2, 3}, {2, 3}}, BinaryCase{"add_nc11", add_fn, {2, 3, 2, 2}, {2, 3, 1, 1}},
                      BinaryCase{"sub_row", sub_fn, {3, 4}, {4}}, BinaryCase{"sub_lead", sub_fn, {1, 4}, {3, 1}},
                      BinaryCase{"mul_same", mul_fn, {5}, {5}}, BinaryCase{"mul_nc11", mul_fn, {2, 3, 2, 2}, {2, 3, 1, 1}},
                      BinaryCase{"div_same", div_fn, {2, 3}, {2, 3}}, BinaryCase{"div_bcast", div_fn, {2, 3, 4}, {3, 1}}),
    CaseName());

TEST(Binary, ScalarFormsGradientCheck) {
  Tensor x = grad_input({3, 4});
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return add(mul(in[0], 3.0), 2.0); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return neg(div(in[0], 4.0)); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return rsub(1.0, in[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return broadcast_to(in[0], {2, 3, 4}); }, {x}));
}

TEST(Binary, ScalarFormsCudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Tensor x = normal({33, 7}, 0, 1).set_requires_grad(true);
  EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return sub(mul(neg(in[0]), 3.0), 2.0); }, {x}));
  EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return broadcast_to(in[0], {4, 33, 7}); }, {x}));
}

TEST(Reduce, SumAndMeanValues) {
  Tensor t = arange(24).reshape({2, 3, 4});
  EXPECT_EQ(sum(t).item(), 276.0);
  EXPECT_EQ(sum(t, {1}).shape(), (Shape{2, 4}));
  EXPECT_EQ(sum(t, {1}).to_vector<float>()[0], 0 + 4 + 8);
  EXPECT_EQ(sum(t, {0, 2}, true).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(sum(t, {0, 2}).to_vector<float>(), (std::vector<float>{60, 92, 124}));
  EXPECT_EQ(mean(t, {-1}).to_vector<float>()[1], 5.5f);
  EXPECT_THROW(sum(t, {3}), Error);
  EXPECT_THROW(sum(t, {1, 1}), Error);
}

TEST(Reduce, GradientCheck) {
  Tensor x = grad_input({2, 3, 4, 5});
  for (std::vector<int64_t> dims : {std::vector<int64_t>{}, {0}, {1, 2}, {0, 2, 3}, {-1}}) {
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], dims); }, {x}));
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], dims, true); }, {x}));
  }
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return sum_to(in[0], {3, 1, 5}); }, {x}));
}

TEST(Reduce, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Tensor x = normal({8, 16, 9, 9}, 0, 1).set_requires_grad(true);
  for (std::vector<int64_t> dims : {std::vector<int64_t>{}, {0}, {2, 3}, {0, 2, 3}, {1}}) {
    EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return sum(in[0], dims); }, {x}));
    EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return mean(in[0], dims); }, {x}));
  }
}
