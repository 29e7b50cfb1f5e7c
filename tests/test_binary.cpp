// Element-wise arithmetic and reductions: values, broadcasting errors, gradient checks and
// CPU-vs-CUDA agreement.
#include <gtest/gtest.h>

#include "framework/framework.h"
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

struct BinaryCase {
  const char* name;
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
    [](const auto& info) { return std::string(info.param.name); });

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
