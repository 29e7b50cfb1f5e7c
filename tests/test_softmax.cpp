// softmax / log_softmax and max / argmax: values against STL computations, stability with huge
// logits, tie and NaN rules, gradient checks along several dimensions, errors, CPU-vs-CUDA.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "framework/framework.h"
#include "framework/ops/reduce_max.h"
#include "framework/ops/softmax.h"
#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"
#include "tests/testing/errors.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// Reference softmax along `dim` of a row-major tensor, in double with std::exp.
std::vector<double> reference_softmax(const std::vector<double>& x, const Shape& shape, int64_t dim, bool log) {
  int64_t outer = 1, D = shape[size_t(dim)], inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[size_t(d)];
  for (size_t d = size_t(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t d) { return size_t(o * D * inner + d * inner + i); };
      double m = x[at(0)];
      for (int64_t d = 1; d < D; ++d) m = std::max(m, x[at(d)]);
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += std::exp(x[at(d)] - m);
      for (int64_t d = 0; d < D; ++d) y[at(d)] = log ? x[at(d)] - m - std::log(s) : std::exp(x[at(d)] - m) / s;
    }
  return y;
}

}  // namespace

// ---- softmax values --------------------------------------------------------------------------------
TEST(Softmax, HandComputedValues) {
  Tensor x = from_vector<double>({1, 2, 3}, {3});
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  std::vector<double> y = softmax(x, 0).to_vector<double>();
  EXPECT_NEAR(y[0], std::exp(1.0) / s, 1e-15);
  EXPECT_NEAR(y[1], std::exp(2.0) / s, 1e-15);
  EXPECT_NEAR(y[2], std::exp(3.0) / s, 1e-15);
  std::vector<double> ly = log_softmax(x, -1).to_vector<double>();
  EXPECT_NEAR(ly[0], 1.0 - std::log(s), 1e-14);
  EXPECT_NEAR(ly[2], 3.0 - std::log(s), 1e-14);
}

TEST(Softmax, EveryDimMatchesReference) {
  const Shape shape{2, 3, 4};
  Generator g(5);
  Tensor x = uniform(shape, -3, 3, g, DType::Float64);
  std::vector<double> xv = x.to_vector<double>();
  for (int64_t dim = 0; dim < 3; ++dim) {
    for (bool log : {false, true}) {
      Tensor ref = from_vector<double>(reference_softmax(xv, shape, dim, log), shape);
      Tensor got = log ? log_softmax(x, dim) : softmax(x, dim);
      EXPECT_TRUE(all_close(got, ref, 1e-12, 1e-14)) << "dim " << dim << " log " << log;
      Tensor neg = log ? log_softmax(x, dim - 3) : softmax(x, dim - 3);
      EXPECT_TRUE(all_close(neg, got, 0, 0)) << "negative dim " << dim - 3;
    }
  }
  // float32 rows sum to one
  Tensor y = softmax(uniform({5, 7}, -4, 4, g), 1);
  std::vector<float> s = sum(y, {1}).to_vector<float>();
  for (float v : s) EXPECT_NEAR(v, 1.0f, 1e-6f);
}

TEST(Softmax, HugeLogitsStayFinite) {
  Tensor x = from_vector<float>({1000, -1000, 0, -1000, -1000, -1000}, {2, 3});
  std::vector<float> y = softmax(x, 1).to_vector<float>();
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 0.0f);
  for (int i = 3; i < 6; ++i) EXPECT_NEAR(y[size_t(i)], 1.0f / 3, 1e-7f);
  std::vector<float> ly = log_softmax(x, 1).to_vector<float>();
  EXPECT_EQ(ly[0], 0.0f);
  EXPECT_EQ(ly[1], -2000.0f);
  EXPECT_EQ(ly[2], -1000.0f);
  EXPECT_NEAR(ly[3], -std::log(3.0f), 1e-6f);
  // and the gradient
  Tensor xl = x.clone().set_requires_grad(true);
  sum(mul(log_softmax(xl, 1), from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}))).backward();
  for (float v : xl.grad().to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(Softmax, GradientCheckSeveralDims) {
  Tensor x = grad_input({2, 3, 4}, -2, 2);
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {x})) << dim;
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {x})) << dim;
  }
  Tensor v = grad_input({6}, -2, 2, 3);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], 0); }, {v}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); }, {v}));
}

TEST(Softmax, BadInputErrors) {
  std::string m = error_of([] { softmax(zeros({2, 3}), 2); });
  EXPECT_NE(m.find("softmax"), std::string::npos) << m;
  EXPECT_NE(m.find("dimension 2"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  m = error_of([] { log_softmax(zeros({2, 3}), -3); });
  EXPECT_NE(m.find("log_softmax"), std::string::npos) << m;
  EXPECT_NE(error_of([] { softmax(zeros({3}, DType::Int64), 0); }).find("floating"), std::string::npos);
  EXPECT_NE(error_of([] { softmax(zeros({}), 0); }).find("at least one dimension"), std::string::npos);
}

// A CPU-vs-CUDA case of softmax and of max: an input shape and the dimension along which to reduce.
struct DimCase : NamedCase {
  Shape shape;
  int64_t dim;
  bool ties = false;  // max only: small integers, so that rows hold ties
};

class SoftmaxCuda : public ::testing::TestWithParam<DimCase> {};

TEST_P(SoftmaxCuda, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const DimCase& c = GetParam();
  Generator g(11);
  Tensor x = normal(c.shape, 0, 3, g).set_requires_grad(true);
  EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return softmax(in[0], c.dim); }, {x}));
  EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return log_softmax(in[0], c.dim); }, {x}));
}

// Covers the warp-per-row (D <= 1024), block-per-row (D > 1024) and strided (inner > 1) kernels.
INSTANTIATE_TEST_SUITE_P(Shapes, SoftmaxCuda,
                         ::testing::Values(DimCase{"last_small", {64, 10}, -1}, DimCase{"last_1000", {33, 1000}, 1},
                                           DimCase{"last_1024", {5, 1024}, 1}, DimCase{"last_3000", {7, 3000}, -1},
                                           DimCase{"one_row_block", {1, 70000}, 1}, DimCase{"middle", {4, 37, 9}, 1},
                                           DimCase{"first", {50, 6}, 0}, DimCase{"nchw_channels", {2, 16, 5, 5}, 1}),
                         CaseName());

TEST(Softmax, Float64AndHugeLogitsCudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Tensor x = grad_input({9, 40}, -3, 3);
  EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return softmax(in[0], 1); }, {x}));
  EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); }, {x}));
  for (int64_t D : {3, 2000}) {
    Generator g(2);
    Tensor big = mul(sub(mul(rand({4, D}, g), 2.0), 1.0), 1000.0).to(Device::cuda());  // in (-1000, 1000)
    for (float v : log_softmax(big, 1).to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
    for (float v : softmax(big, 1).to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
  }
}

// ---- max / argmax ----------------------------------------------------------------------------------
TEST(Max, ValuesIndicesAndShapes) {
  // [[1, 5, 2],
  //  [7, 0, 7]]
  Tensor x = from_vector<float>({1, 5, 2, 7, 0, 7}, {2, 3});
  MaxResult r = max(x, 1);
  EXPECT_EQ(r.values.shape(), (Shape{2}));
  EXPECT_EQ(r.values.to_vector<float>(), (std::vector<float>{5, 7}));
  EXPECT_EQ(r.indices.dtype(), DType::Int64);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // tie -> first
  MaxResult c = max(x, 0, true);
  EXPECT_EQ(c.values.shape(), (Shape{1, 3}));
  EXPECT_EQ(c.values.to_vector<float>(), (std::vector<float>{7, 5, 7}));
  EXPECT_EQ(c.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(argmax(x, -1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(argmax(x, 0, true).shape(), (Shape{1, 3}));
  EXPECT_EQ(max(from_vector<float>({-3}, {1}), 0).values.shape(), Shape{});
}

TEST(Max, MiddleDimMatchesLoop) {
  Generator g(4);
  Tensor x = randint(0, 5, {3, 6, 4}, g).to(DType::Float64);  // many ties
  std::vector<double> xv = x.to_vector<double>();
  MaxResult r = max(x, 1);
  std::vector<double> vals = r.values.to_vector<double>();
  std::vector<int64_t> idx = r.indices.to_vector<int64_t>();
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 4; ++i) {
      int best = 0;
      for (int d = 1; d < 6; ++d)
        if (xv[size_t(o * 24 + d * 4 + i)] > xv[size_t(o * 24 + best * 4 + i)]) best = d;
      EXPECT_EQ(idx[size_t(o * 4 + i)], best);
      EXPECT_EQ(vals[size_t(o * 4 + i)], xv[size_t(o * 24 + best * 4 + i)]);
    }
}

TEST(Max, NaNPropagatesAndInfinityWorks) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Tensor x = from_vector<float>({1, nan, 3, nan, -inf, -inf, -inf, 2}, {2, 4});
  MaxResult r = max(x, 1);
  EXPECT_TRUE(std::isnan(r.values.to_vector<float>()[0]));
  EXPECT_EQ(r.indices.to_vector<int64_t>()[0], 1);
  EXPECT_EQ(r.values.to_vector<float>()[1], 2.0f);
  EXPECT_EQ(r.indices.to_vector<int64_t>()[1], 3);
  EXPECT_EQ(argmax(from_vector<float>({-inf, -inf}, {2}), 0).item(), 0.0);
}

TEST(Max, GradientGoesToArgmaxOnly) {
  Tensor x = from_vector<double>({1, 3, 3, 0, -2, -1}, {2, 3}).set_requires_grad(true);
  MaxResult r = max(x, 1);
  EXPECT_TRUE(r.values.requires_grad());
  EXPECT_FALSE(r.indices.requires_grad());
  sum(mul(r.values, from_vector<double>({10, 20}, {2}))).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 10, 0, 20, 0, 0}));
}

TEST(Max, GradientCheck) {
  Tensor x = grad_input({3, 4, 5});  // continuous values: no ties
  for (int64_t dim : {0, 1, 2, -1}) {
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return max(in[0], dim).values; }, {x})) << dim;
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return max(in[0], dim, true).values; }, {x})) << dim;
  }
}

TEST(Max, BadInputErrors) {
  std::string m = error_of([] { max(zeros({2, 3}), 5); });
  EXPECT_NE(m.find("max: dimension 5"), std::string::npos) << m;
  m = error_of([] { argmax(zeros({2, 0}), 1); });
  EXPECT_NE(m.find("argmax"), std::string::npos) << m;
  EXPECT_NE(m.find("empty"), std::string::npos) << m;
  EXPECT_NE(error_of([] { max(zeros({3}, DType::Int64), 0); }).find("floating"), std::string::npos);
  // Empty non-reduced dimensions are fine.
  EXPECT_EQ(max(zeros({0, 3}), 1).values.shape(), (Shape{0}));
}

class MaxCuda : public ::testing::TestWithParam<DimCase> {};

TEST_P(MaxCuda, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const DimCase& c = GetParam();
  Generator g(21);
  Tensor x = c.ties ? randint(0, 3, c.shape, g).to(DType::Float32) : normal(c.shape, 0, 1, g);
  x.set_requires_grad(true);
  EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return max(in[0], c.dim).values; }, {x}));
  MaxResult rc = max(x.detach(), c.dim, true), rg = max(x.detach().to(Device::cuda()), c.dim, true);
  EXPECT_EQ(rg.indices.shape(), rc.indices.shape());
  EXPECT_EQ(rg.indices.to_vector<int64_t>(), rc.indices.to_vector<int64_t>());
  EXPECT_EQ(argmax(x.detach().to(Device::cuda()), c.dim).to_vector<int64_t>(),
            argmax(x.detach(), c.dim).to_vector<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(Shapes, MaxCuda,
                         ::testing::Values(DimCase{"last", {64, 10}, 1, false}, DimCase{"last_ties", {64, 1000}, 1, true},
                                           DimCase{"last_long", {3, 5000}, -1, false},
                                           DimCase{"middle_ties", {4, 37, 9}, 1, true},
                                           DimCase{"first", {50, 6}, 0, false}),
                         CaseName());

TEST(Max, NaNCudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v(2 * 100, 1.0f);
  v[70] = nan;
  v[90] = nan;
  v[100 + 40] = 5.0f;
  v[100 + 99] = 5.0f;
  Tensor x = from_vector<float>(v, {2, 100});
  MaxResult r = max(x.to(Device::cuda()), 1);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{70, 40}));
  EXPECT_TRUE(std::isnan(r.values.to_vector<float>()[0]));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), max(x, 1).indices.to_vector<int64_t>());
}
