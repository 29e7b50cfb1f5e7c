// Matrix products: matmul, transpose, linear and the raw gemm helper against naive loops,
// gradient checks, CPU-vs-CUDA agreement and error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "framework/framework.h"
#include "framework/ops/matmul.h"
#include "framework/ops/matmul_kernels.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"
#include "tests/testing/errors.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// ---- naive oracles (float64 loops) ---------------------------------------------------------------
// op(A) element (i, k) of a row-major buffer, for a stored shape that transA may flip.
double at(const std::vector<double>& m, bool trans, int64_t rows_of_op, int64_t cols_of_op, int64_t i, int64_t k) {
  return trans ? m[size_t(k * rows_of_op + i)] : m[size_t(i * cols_of_op + k)];
}

std::vector<double> naive_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                               const std::vector<double>& A, const std::vector<double>& B, double beta,
                               const std::vector<double>& C) {
  std::vector<double> out(size_t(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += at(A, ta, M, K, i, k) * at(B, tb, K, N, k, j);
      out[size_t(i * N + j)] = alpha * acc + (beta == 0 ? 0.0 : beta * C[size_t(i * N + j)]);
    }
  return out;
}

Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  return from_vector<double>(naive_gemm(false, false, M, N, K, 1, a.to_vector<double>(), b.to_vector<double>(), 0, {}),
                             {M, N});
}

Tensor naive_linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  int64_t N = x.size(0), in = x.size(1), out = w.size(0);
  std::vector<double> vx = x.to_vector<double>(), vw = w.to_vector<double>(), r(size_t(N * out));
  std::vector<double> vb = bias.defined() ? bias.to_vector<double>() : std::vector<double>(size_t(out), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double acc = vb[size_t(o)];
      for (int64_t i = 0; i < in; ++i) acc += vx[size_t(n * in + i)] * vw[size_t(o * in + i)];
      r[size_t(n * out + o)] = acc;
    }
  return from_vector<double>(r, {N, out});
}

Tensor rand64(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return uniform(s, -1, 1, g, DType::Float64);
}

// float32 GEMM error grows with the length of the dot products: scale atol with it.
CompareOptions gemm_tolerance(int64_t longest) {
  CompareOptions o;
  o.rtol = 1e-4;
  o.atol = 1e-4 * std::sqrt(double(std::max<int64_t>(longest, 1)));
  return o;
}

struct MatmulShape {
  int64_t M, K, N;
};
const MatmulShape kShapes[] = {{1, 5, 3}, {4, 1, 6}, {3, 7, 1}, {1, 8, 1}, {5, 5, 5}, {17, 33, 9}, {64, 128, 65}};

}  // namespace

// ---- values ---------------------------------------------------------------------------------------
TEST(Matmul, HandComputed) {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 2}));
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{58, 64, 139, 154}));
  EXPECT_EQ(transpose(a).to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  Tensor w = from_vector<float>({1, 0, -1, 2, 1, 0}, {2, 3});  // (out=2, in=3)
  Tensor bias = from_vector<float>({10, 20}, {2});
  // row 0: [1-3, 2+2] ; row 1: [4-6, 8+5]
  EXPECT_EQ(linear(a, w, bias).to_vector<float>(), (std::vector<float>{8, 24, 8, 33}));
  EXPECT_EQ(linear(a, w).to_vector<float>(), (std::vector<float>{-2, 4, -2, 13}));
}

TEST(Matmul, ValuesMatchNaiveLoops) {
  for (const MatmulShape& s : kShapes) {
    SCOPED_TRACE(::testing::Message() << s.M << "x" << s.K << " * " << s.K << "x" << s.N);
    Tensor a = rand64({s.M, s.K}, 1), b = rand64({s.K, s.N}, 2);
    EXPECT_TRUE(all_close(matmul(a, b), naive_matmul(a, b), 1e-12, 1e-12));
    // float32: same values within float rounding.
    EXPECT_TRUE(all_close(matmul(a.to(DType::Float32), b.to(DType::Float32)), naive_matmul(a, b), 1e-5,
                          1e-6 * double(s.K)));
  }
}

TEST(Matmul, EmptyDimensions) {
  Tensor c = matmul(zeros({0, 3}), zeros({3, 4}));
  EXPECT_EQ(c.shape(), (Shape{0, 4}));
  // K == 0: a sum of nothing, so zeros (the output starts as uninitialised memory).
  Tensor d = matmul(zeros({2, 0}), zeros({0, 3}));
  EXPECT_EQ(d.shape(), (Shape{2, 3}));
  EXPECT_EQ(d.to_vector<float>(), std::vector<float>(6, 0.0f));
  Tensor bias = from_vector<float>({1, 2}, {2});
  EXPECT_EQ(linear(zeros({3, 0}), zeros({2, 0}), bias).to_vector<float>(), (std::vector<float>{1, 2, 1, 2, 1, 2}));
}

TEST(Matmul, TransposeMatchesNaiveLoops) {
  for (Shape s : {Shape{1, 7}, Shape{7, 1}, Shape{67, 45}, Shape{32, 64}}) {
    Tensor x = rand64(s, 3);
    Tensor t = transpose(x);
    ASSERT_EQ(t.shape(), (Shape{s[1], s[0]}));
    std::vector<double> vx = x.to_vector<double>(), vt = t.to_vector<double>();
    for (int64_t r = 0; r < s[0]; ++r)
      for (int64_t c = 0; c < s[1]; ++c) ASSERT_EQ(vt[size_t(c * s[0] + r)], vx[size_t(r * s[1] + c)]);
  }
}

TEST(Matmul, LinearMatchesNaiveLoops) {
  for (const MatmulShape& s : kShapes) {  // x (M, K), weight (N, K)
    Tensor x = rand64({s.M, s.K}, 4), w = rand64({s.N, s.K}, 5), b = rand64({s.N}, 6);
    EXPECT_TRUE(all_close(linear(x, w, b), naive_linear(x, w, b), 1e-12, 1e-12));
    EXPECT_TRUE(all_close(linear(x, w), naive_linear(x, w, Tensor()), 1e-12, 1e-12));
  }
}

TEST(Matmul, GemmHelperAllFlagsMatchNaive) {
  const int64_t M = 5, N = 7, K = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, 0.5}) {
        SCOPED_TRACE(::testing::Message() << "transA=" << ta << " transB=" << tb << " beta=" << beta);
        std::vector<double> A = rand64({M * K}, 7).to_vector<double>(), B = rand64({K * N}, 8).to_vector<double>();
        std::vector<double> C0 = rand64({M * N}, 9).to_vector<double>();
        if (beta == 0.0) C0.assign(C0.size(), std::numeric_limits<double>::quiet_NaN());  // must not be read
        std::vector<double> want = naive_gemm(ta, tb, M, N, K, 2.0, A, B, beta, C0);
        std::vector<double> C = C0;
        cpu::gemm(ta, tb, M, N, K, 2.0, A.data(), B.data(), beta, C.data());
        for (size_t i = 0; i < C.size(); ++i) ASSERT_NEAR(C[i], want[i], 1e-12) << i;
        std::vector<float> Af(A.begin(), A.end()), Bf(B.begin(), B.end()), Cf(C0.begin(), C0.end());
        cpu::gemm(ta, tb, M, N, K, 2.0, Af.data(), Bf.data(), beta, Cf.data());
        for (size_t i = 0; i < Cf.size(); ++i) ASSERT_NEAR(Cf[i], want[i], 1e-5) << i;
      }
  // K == 0 with beta: C = beta * C.
  std::vector<double> C = {1, 2, 3, 4};
  cpu::gemm(false, false, 2, 2, 0, 1.0, nullptr, nullptr, 3.0, C.data());
  EXPECT_EQ(C, (std::vector<double>{3, 6, 9, 12}));
}

// ---- gradients ------------------------------------------------------------------------------------
TEST(Matmul, GradientCheck) {
  for (const MatmulShape& s : kShapes) {
    if (s.M * s.K * s.N > 5000) continue;  // numeric differences cost one forward per element
    SCOPED_TRACE(::testing::Message() << s.M << "x" << s.K << " * " << s.K << "x" << s.N);
    Tensor a = grad_input({s.M, s.K}, -1, 1, 1), b = grad_input({s.K, s.N}, -1, 1, 2);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b}));
  }
  // Only one operand requires grad: the other's gradient is neither computed nor needed.
  Tensor a = grad_input({3, 4}), b = rand64({4, 2}, 3);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return matmul(in[1], in[0]); },
                        {grad_input({2, 5}), rand64({3, 2}, 4)}));
}

TEST(Matmul, TransposeGradientCheck) {
  Tensor x = grad_input({4, 7});
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0]); }, {x}));
  // Composed with matmul: (a^T b) exercises the transpose node inside a graph.
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return matmul(transpose(in[0]), in[1]); },
                        {grad_input({3, 4}, -1, 1, 1), grad_input({3, 2}, -1, 1, 2)}));
}

TEST(Matmul, LinearGradientCheck) {
  Tensor x = grad_input({5, 4}, -1, 1, 1), w = grad_input({3, 4}, -1, 1, 2), b = grad_input({3}, -1, 1, 3);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w}));
  Tensor row = grad_input({1, 6}, -1, 1, 4), w1 = grad_input({1, 6}, -1, 1, 5), b1 = grad_input({1}, -1, 1, 6);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {row, w1, b1}));
}

TEST(Matmul, LinearGradientsOnlyWhereWanted) {
  // The input of a first layer does not require grad: it gets no gradient, the parameters do.
  Tensor x = rand64({4, 3}, 1), w = grad_input({2, 3}, -1, 1, 2), b = grad_input({2}, -1, 1, 3);
  sum(linear(x, w, b)).backward();
  EXPECT_FALSE(x.grad().defined());
  ASSERT_TRUE(w.grad().defined());
  ASSERT_TRUE(b.grad().defined());
  // d sum / dW[o][i] = sum over rows of x[:, i]; d sum / db = number of rows.
  std::vector<double> vx = x.to_vector<double>(), gw = w.grad().to_vector<double>();
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t i = 0; i < 3; ++i) {
      double col = 0;
      for (int64_t n = 0; n < 4; ++n) col += vx[size_t(n * 3 + i)];
      EXPECT_NEAR(gw[size_t(o * 3 + i)], col, 1e-12);
    }
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{4, 4}));
}

// ---- errors ---------------------------------------------------------------------------------------
TEST(Matmul, ShapeMismatchNamesBothShapes) {
  std::string m = error_of([] { matmul(zeros({2, 3}), zeros({4, 5})); });
  EXPECT_NE(m.find("matmul"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 5]"), std::string::npos) << m;
  m = error_of([] { linear(zeros({2, 3}), zeros({5, 4})); });
  EXPECT_NE(m.find("linear"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("[5, 4]"), std::string::npos) << m;
  m = error_of([] { linear(zeros({2, 3}), zeros({5, 3}), zeros({4})); });
  EXPECT_NE(m.find("bias [4]"), std::string::npos) << m;
  EXPECT_NE(m.find("[5, 3]"), std::string::npos) << m;
}

TEST(Matmul, NonMatrixInputsRejected) {
  std::string m = error_of([] { matmul(zeros({2, 3, 4}), zeros({4, 5})); });
  EXPECT_NE(m.find("must be 2-D"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;
  m = error_of([] { matmul(zeros({3}), zeros({3, 2})); });
  EXPECT_NE(m.find("must be 2-D"), std::string::npos) << m;
  m = error_of([] { transpose(zeros({2, 3, 4})); });
  EXPECT_NE(m.find("transpose"), std::string::npos) << m;
  m = error_of([] { linear(zeros({2, 3, 4}), zeros({5, 4})); });
  EXPECT_NE(m.find("must be 2-D"), std::string::npos) << m;
  m = error_of([] { linear(zeros({2, 3}), zeros({3})); });
  EXPECT_NE(m.find("weight must be 2-D"), std::string::npos) << m;
  m = error_of([] { linear(zeros({2, 3}), zeros({5, 3}), zeros({1, 5})); });
  EXPECT_NE(m.find("bias [1, 5]"), std::string::npos) << m;
  m = error_of([] { matmul(zeros({2, 3}), zeros({3, 2}, DType::Float64)); });
  EXPECT_NE(m.find("dtypes differ"), std::string::npos) << m;
}

// ---- CPU vs CUDA ----------------------------------------------------------------------------------
TEST(Matmul, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const MatmulShape shapes[] = {{1, 5, 3},     {4, 1, 6},       {3, 7, 1},      {1, 300, 1},
                                {17, 33, 9},   {128, 512, 96},  {257, 63, 130}};
  for (const MatmulShape& s : shapes) {
    SCOPED_TRACE(::testing::Message() << s.M << "x" << s.K << " * " << s.K << "x" << s.N);
    Generator g(11);
    Tensor a = uniform({s.M, s.K}, -1, 1, g).set_requires_grad(true);
    Tensor b = uniform({s.K, s.N}, -1, 1, g).set_requires_grad(true);
    EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b},
                               gemm_tolerance(std::max({s.M, s.K, s.N}))));
  }
  // float64 runs through cublasDgemm.
  Tensor a = rand64({9, 20}, 1).set_requires_grad(true), b = rand64({20, 4}, 2).set_requires_grad(true);
  CompareOptions tight;
  tight.rtol = 1e-12;
  tight.atol = 1e-12;
  EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b}, tight));
}

TEST(Matmul, TransposeCudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  CompareOptions exact;
  exact.rtol = 0;
  exact.atol = 0;
  // {2100000, 2}: 65625 row tiles, more than gridDim.y (65535), so the tile loop strides.
  for (Shape s : {Shape{1, 7}, Shape{7, 1}, Shape{32, 32}, Shape{67, 45}, Shape{1000, 33}, Shape{3, 2000},
                  Shape{2100000, 2}}) {
    SCOPED_TRACE(shape_str(s));
    Tensor x = normal(s, 0, 1).set_requires_grad(true);
    EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return transpose(in[0]); }, {x}, exact));
  }
  Tensor x = rand64({40, 70}, 5).set_requires_grad(true);
  EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return transpose(in[0]); }, {x}, exact));
}

TEST(Matmul, LinearCudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  for (const MatmulShape& s : {MatmulShape{1, 6, 1}, MatmulShape{32, 1280, 1000}, MatmulShape{7, 33, 65}}) {
    SCOPED_TRACE(::testing::Message() << "N=" << s.M << " in=" << s.K << " out=" << s.N);
    Generator g(12);
    Tensor x = uniform({s.M, s.K}, -1, 1, g).set_requires_grad(true);
    Tensor w = uniform({s.N, s.K}, -1, 1, g).set_requires_grad(true);
    Tensor b = uniform({s.N}, -1, 1, g).set_requires_grad(true);
    CompareOptions tol = gemm_tolerance(std::max({s.M, s.K, s.N}));
    auto with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
    EXPECT_TRUE(cpu_cuda_match(with_bias, {x, w, b}, tol));
    EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w}, tol));
    // Frozen input: only the parameter gradients.
    Tensor xc = x.detach();
    EXPECT_TRUE(cpu_cuda_match(with_bias, {xc, w, b}, tol));
  }
}

TEST(Matmul, GemmHelperCudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
#ifdef EFFNET_WITH_CUDA  // cuda_ops:: exists only in CUDA builds; the skip above covers the rest
  const int64_t M = 37, N = 19, K = 53;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, 1.0}) {
        SCOPED_TRACE(::testing::Message() << "transA=" << ta << " transB=" << tb << " beta=" << beta);
        Generator g(13);
        Tensor A = uniform({M * K}, -1, 1, g), B = uniform({K * N}, -1, 1, g), C = uniform({M, N}, -1, 1, g);
        Tensor Ag = A.to(Device::cuda()), Bg = B.to(Device::cuda()), Cg = C.to(Device::cuda());
        cpu::gemm(ta, tb, M, N, K, 0.5, A.data<float>(), B.data<float>(), beta, C.data<float>());
        cuda_ops::gemm(ta, tb, M, N, K, 0.5, Ag.data<float>(), Bg.data<float>(), beta, Cg.data<float>());
        EXPECT_TRUE(all_close(Cg, C, 1e-4, 1e-4 * std::sqrt(double(K))));
      }
  // K == 0 and beta == 0 over garbage: zeros.
  Tensor Cg = full({3, 4}, std::numeric_limits<double>::quiet_NaN(), DType::Float32, Device::cuda());
  cuda_ops::gemm(false, false, 3, 4, 0, 1.0, static_cast<const float*>(nullptr), nullptr, 0.0, Cg.data<float>());
  EXPECT_EQ(Cg.to_vector<float>(), std::vector<float>(12, 0.0f));
#endif
}
