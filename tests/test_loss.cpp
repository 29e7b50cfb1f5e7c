// cross_entropy (with and without label smoothing), count_correct and accuracy: values against a
// direct double-precision computation, huge logits, gradient checks, shape/dtype/label errors,
// CPU-vs-CUDA, and the lazy GPU label check.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "framework/framework.h"
#include "framework/ops/loss.h"
#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"
#include "tests/testing/errors.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// PyTorch's definition, written out: mean_n [(1 - eps) * nll_n + eps * mean_c(-log p_nc)].
double reference_loss(const std::vector<double>& x, const std::vector<int64_t>& y, int64_t C, double eps) {
  const size_t N = y.size();
  double total = 0;
  for (size_t n = 0; n < N; ++n) {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < C; ++c) m = std::max(m, x[n * size_t(C) + size_t(c)]);
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(x[n * size_t(C) + size_t(c)] - m);
    auto logp = [&](int64_t c) { return x[n * size_t(C) + size_t(c)] - m - std::log(s); };
    double smooth = 0;
    for (int64_t c = 0; c < C; ++c) smooth -= logp(c) / double(C);
    total += (1 - eps) * -logp(y[n]) + eps * smooth;
  }
  return total / double(N);
}

Tensor labels_of(std::vector<int64_t> v, Device d = Device::cpu()) {
  return from_vector<int64_t>(v, {int64_t(v.size())}, d);
}

}  // namespace

TEST(CrossEntropy, HandComputedValue) {
  // Row 0: logits (0, 0) label 1 -> log 2. Row 1: (ln 3, 0) label 0 -> -log(3/4) = log(4/3).
  Tensor x = from_vector<double>({0, 0, std::log(3.0), 0}, {2, 2});
  Tensor loss = cross_entropy(x, labels_of({1, 0}));
  EXPECT_EQ(loss.shape(), Shape{});
  EXPECT_NEAR(loss.item(), (std::log(2.0) + std::log(4.0 / 3.0)) / 2, 1e-15);
  // Uniform logits give log C whatever the smoothing.
  for (double eps : {0.0, 0.3, 1.0}) EXPECT_NEAR(cross_entropy(zeros({4, 10}), labels_of({0, 3, 9, 2}), eps).item(), std::log(10.0), 1e-6);
}

TEST(CrossEntropy, MatchesReferenceWithSmoothing) {
  Generator g(3);
  Tensor x = uniform({6, 5}, -3, 3, g, DType::Float64);
  Tensor y = randint(0, 5, {6}, g);
  for (double eps : {0.0, 0.1, 0.5}) {
    double ref = reference_loss(x.to_vector<double>(), y.to_vector<int64_t>(), 5, eps);
    EXPECT_NEAR(cross_entropy(x, y, eps).item(), ref, 1e-13) << eps;
    EXPECT_NEAR(cross_entropy(x.to(DType::Float32), y, eps).item(), ref, 1e-5) << eps;
  }
}

TEST(CrossEntropy, HugeLogitsStayFinite) {
  Tensor x = from_vector<float>({1000, -1000, 0, -1000, 1000, 1000}, {2, 3});
  EXPECT_NEAR(cross_entropy(x, labels_of({0, 1})).item(), std::log(2.0) / 2, 1e-6);
  // label 1 in row 0 costs 2000
  EXPECT_NEAR(cross_entropy(x, labels_of({1, 0})).item(), (2000.0 + 2000.0 + std::log(2.0)) / 2, 1e-3);
  Tensor xl = x.clone().set_requires_grad(true);
  Tensor loss = cross_entropy(xl, labels_of({1, 0}), 0.1);
  EXPECT_TRUE(std::isfinite(loss.item()));
  loss.backward();
  std::vector<float> gr = xl.grad().to_vector<float>();
  for (float v : gr) EXPECT_TRUE(std::isfinite(v));
  // d/dx = (softmax - target) / N: row 0 softmax = (1, 0, 0), target = 0.9 * e_1 + 0.1 / 3
  EXPECT_NEAR(gr[0], (1 - 0.1f / 3) / 2, 1e-6f);
  EXPECT_NEAR(gr[1], (0 - 0.9f - 0.1f / 3) / 2, 1e-6f);
}

TEST(CrossEntropy, GradientCheck) {
  Tensor x = grad_input({5, 7}, -2, 2);
  Generator g(9);
  Tensor y = randint(0, 7, {5}, g);
  for (double eps : {0.0, 0.1, 1.0})
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], eps); }, {x, y}))
        << eps;
  // As part of a larger graph: the incoming gradient is not 1.
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& in) { return mul(cross_entropy(mul(in[0], 2.0), in[1], 0.2), 3.0); }, {x, y}));
}

TEST(CrossEntropy, ShapeDtypeAndLabelErrors) {
  Tensor x = zeros({3, 4});
  std::string m = error_of([&] { cross_entropy(x, labels_of({0, 1, 4})); });
  EXPECT_NE(m.find("label 4 at row 2"), std::string::npos) << m;
  EXPECT_NE(m.find("[0, 4)"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(x, labels_of({0, -1, 1})); });
  EXPECT_NE(m.find("label -1 at row 1"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(x, labels_of({0, 1})); });
  EXPECT_NE(m.find("labels must be (N) = (3)"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(x, zeros({3})); });
  EXPECT_NE(m.find("int64"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(zeros({12}), labels_of({0})); });
  EXPECT_NE(m.find("(N, C)"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(zeros({3, 4}, DType::Int64), labels_of({0, 1, 2})); });
  EXPECT_NE(m.find("floating"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(x, labels_of({0, 1, 2}), 1.5); });
  EXPECT_NE(m.find("label_smoothing"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(zeros({0, 4}), Tensor::empty({0}, DType::Int64)); });
  EXPECT_NE(m.find("empty batch"), std::string::npos) << m;
  m = error_of([&] { cross_entropy(zeros({2, 0}), labels_of({0, 0})); });
  EXPECT_NE(m.find("no classes"), std::string::npos) << m;
}

TEST(Accuracy, CountsArgmaxMatches) {
  // argmax per row: 2, 0 (tie -> first), 1, 0
  Tensor x = from_vector<float>({0, 1, 5, 3, 3, 0, -1, 2, 0, 9, 8, 7}, {4, 3});
  EXPECT_EQ(count_correct(x, labels_of({2, 0, 1, 1})), 3);
  EXPECT_DOUBLE_EQ(accuracy(x, labels_of({2, 0, 1, 1})), 0.75);
  EXPECT_EQ(count_correct(x, labels_of({2, 1, 1, 0})), 3);  // tie row: label 1 is not the argmax
  EXPECT_EQ(count_correct(x, labels_of({0, 1, 0, 1})), 0);
  std::string m = error_of([&] { accuracy(x, labels_of({0, 1, 3, 1})); });
  EXPECT_NE(m.find("label 3 at row 2"), std::string::npos) << m;
  m = error_of([&] { accuracy(zeros({0, 3}), Tensor::empty({0}, DType::Int64)); });
  EXPECT_NE(m.find("empty batch"), std::string::npos) << m;
  EXPECT_EQ(count_correct(zeros({0, 3}), Tensor::empty({0}, DType::Int64)), 0);
}

TEST(Accuracy, CountsIntoABufferRowWithoutReadingBack) {
  // What the training loop does per step: counters into one row of a (steps, 4) buffer, all rows
  // read back at once, then checked by correct_of.
  Tensor x = from_vector<float>({0, 1, 5, 3, 3, 0, -1, 2, 0, 9, 8, 7}, {4, 3});
  Tensor rows = full({2, 4}, -5.0, DType::Int64);
  count_correct_into(x, labels_of({2, 0, 1, 1}), rows.slice(0, 1).reshape({4}));
  count_correct_into(x, labels_of({0, 1, 0, 1}), rows.slice(1, 2).reshape({4}));
  const std::vector<int64_t> v = rows.to_vector<int64_t>();
  EXPECT_EQ(v, (std::vector<int64_t>{3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(correct_of({3, 0, 0, 0}, 3), 3);
  // A GPU's record of a bad label, as correct_of reads it back.
  std::string m = error_of([&] { correct_of({1, 2, 7, 5}, 3); });
  EXPECT_NE(m.find("label 7 at row 5 is outside [0, 3)"), std::string::npos) << m;
  m = error_of([&] { count_correct_into(x, labels_of({0, 1, 0, 1}), zeros({4})); });
  EXPECT_NE(m.find("int64 [4]"), std::string::npos) << m;
  m = error_of([&] { count_correct_into(x, labels_of({0, 1, 9, 1}), rows.slice(0, 1).reshape({4})); });
  EXPECT_NE(m.find("label 9"), std::string::npos) << m;  // the CPU checks at once
}

TEST(Accuracy, NotDifferentiableAndNoGraph) {
  Tensor x = grad_input({3, 4});
  Generator g(1);
  Tensor y = randint(0, 4, {3}, g);
  int64_t n = count_correct(x, y);
  EXPECT_GE(n, 0);
  EXPECT_LE(n, 3);
  EXPECT_FALSE(x.grad().defined());
}

struct LossCase : NamedCase {
  int64_t N, C;
  double eps;  // label smoothing
};

class CrossEntropyCuda : public ::testing::TestWithParam<LossCase> {};

TEST_P(CrossEntropyCuda, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const LossCase& c = GetParam();
  Generator g(17);
  Tensor x = normal({c.N, c.C}, 0, 3, g).set_requires_grad(true);
  Tensor y = randint(0, c.C, {c.N}, g);
  CompareOptions opts;
  opts.atol = 1e-6;
  EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], c.eps); },
                             {x, y}, opts));
  EXPECT_EQ(count_correct(x.detach().to(Device::cuda()), y.to(Device::cuda())), count_correct(x.detach(), y));
  Tensor counters = Tensor::empty({4}, DType::Int64, Device::cuda());
  count_correct_into(x.detach().to(Device::cuda()), y.to(Device::cuda()), counters);
  EXPECT_EQ(correct_of(counters.to_vector<int64_t>(), c.C), count_correct(x.detach(), y));
  check_label_errors();  // nothing recorded
}

INSTANTIATE_TEST_SUITE_P(Shapes, CrossEntropyCuda,
                         ::testing::Values(LossCase{"n64_c10", 64, 10, 0.0}, LossCase{"n64_c10_smooth", 64, 10, 0.1},
                                           LossCase{"n33_c1000", 33, 1000, 0.0},
                                           LossCase{"n33_c1000_smooth", 33, 1000, 0.2},
                                           LossCase{"n1_c37", 1, 37, 0.0}, LossCase{"n300_c3", 300, 3, 0.1}),
                         CaseName());

TEST(CrossEntropy, HugeLogitsAndFloat64CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator g(5);
  Tensor big = mul(sub(mul(rand({16, 100}, g), 2.0), 1.0), 1000.0).set_requires_grad(true);
  Tensor y = randint(0, 100, {16}, g);
  EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], 0.1); },
                             {big, y}));
  Tensor x64 = grad_input({8, 12});
  Tensor y64 = randint(0, 12, {8}, g);
  EXPECT_TRUE(cpu_cuda_match([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], 0.1); },
                             {x64, y64}));
}

TEST(CrossEntropy, BadLabelCudaIsReportedLazily) {
  EFFNET_REQUIRE_CUDA();
  Tensor x = zeros({3, 4}, DType::Float32, Device::cuda());
  Tensor good = labels_of({0, 1, 2}, Device::cuda());
  check_label_errors();  // start clean

  // Explicit check: the loss is NaN, and the check names the label, its row and C.
  Tensor loss = cross_entropy(x, labels_of({0, 7, 2}, Device::cuda()));
  EXPECT_TRUE(std::isnan(loss.item()));
  std::string m = error_of([] { check_label_errors(); });
  EXPECT_NE(m.find("label 7 at row 1"), std::string::npos) << m;
  EXPECT_NE(m.find("[0, 4)"), std::string::npos) << m;
  EXPECT_NO_THROW(check_label_errors());  // the record was cleared
  EXPECT_FALSE(std::isnan(cross_entropy(x, good).item()));

  // Lazy check: once the GPU has finished, the next call throws without being asked.
  Tensor xg = x.clone().set_requires_grad(true);
  Tensor bad_loss = cross_entropy(xg, labels_of({-3, 0, 0}, Device::cuda()));
  bad_loss.backward();
  std::vector<float> gr = xg.grad().to_vector<float>();  // waits for the GPU
  for (int c = 0; c < 4; ++c) EXPECT_TRUE(std::isnan(gr[size_t(c)]));  // the bad row is poisoned
  EXPECT_FALSE(std::isnan(gr[4]));
  m = error_of([&] { cross_entropy(x, good); });
  EXPECT_NE(m.find("label -3 at row 0"), std::string::npos) << m;
  EXPECT_NO_THROW(cross_entropy(x, good));
  check_label_errors();

  m = error_of([&] { count_correct(x, labels_of({0, 4, 1}, Device::cuda())); });
  EXPECT_NE(m.find("label 4 at row 1"), std::string::npos) << m;
}
