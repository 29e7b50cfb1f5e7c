// conv2d: a naive direct-loop oracle (kept here, never in the product), hand-computed values,
// gradient checks in float64, error messages, and CPU-vs-CUDA agreement of forward and backward.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framework/framework.h"
#include "framework/ops/conv2d.h"
#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "tests/testing/errors.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// The textbook definition: y[n, oc, oh, ow] = b[oc] + sum over the input channels of oc's group and
// the kernel window of x[n, ic, oh*s - p + i, ow*s - p + j] * w[oc, ic - group start, i, j].
// Computed in double on the host from tensors of any float dtype; returns float64.
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), KH = w.size(2), KW = w.size(3);
  const int64_t Og = O / p.groups;
  const int64_t HO = (H + 2 * p.pad_h - KH) / p.stride_h + 1, WO = (W + 2 * p.pad_w - KW) / p.stride_w + 1;
  std::vector<double> vx = x.to_vector<double>(), vw = w.to_vector<double>();
  std::vector<double> vb = b.defined() ? b.to_vector<double>() : std::vector<double>(size_t(O), 0.0);
  std::vector<double> vy(size_t(N * O * HO * WO));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc) {
      const int64_t grp = oc / Og;
      for (int64_t oh = 0; oh < HO; ++oh)
        for (int64_t ow = 0; ow < WO; ++ow) {
          double acc = vb[size_t(oc)];
          for (int64_t icg = 0; icg < Cg; ++icg) {
            const int64_t ic = grp * Cg + icg;
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += vx[size_t(((n * C + ic) * H + ih) * W + iw)] * vw[size_t(((oc * Cg + icg) * KH + i) * KW + j)];
              }
          }
          vy[size_t(((n * O + oc) * HO + oh) * WO + ow)] = acc;
        }
    }
  return from_vector<double>(vy, {N, O, HO, WO});
}

struct ConvCase : NamedCase {
  int64_t n, c_in, h, w, c_out, kh, kw;
  Conv2dParams p;
  bool bias;
};

Conv2dParams params(int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t groups) {
  Conv2dParams p;
  p.stride_h = stride_h, p.stride_w = stride_w, p.pad_h = pad_h, p.pad_w = pad_w, p.groups = groups;
  return p;
}

struct ConvInputs {
  Tensor x, w, b;
};

ConvInputs make_inputs(const ConvCase& c, DType dtype, uint64_t seed) {
  Generator gen(seed);
  ConvInputs in;
  in.x = uniform({c.n, c.c_in, c.h, c.w}, -1, 1, gen, dtype);
  in.w = uniform({c.c_out, c.c_in / c.p.groups, c.kh, c.kw}, -1, 1, gen, dtype);
  if (c.bias) in.b = uniform({c.c_out}, -1, 1, gen, dtype);
  return in;
}

}  // namespace

// ---- forward against the oracle -----------------------------------------------------------------
class ConvOracle : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvOracle, Float32MatchesNaive) {
  const ConvCase& c = GetParam();
  ConvInputs in = make_inputs(c, DType::Float32, 11);
  Tensor y = conv2d(in.x, in.w, in.b, c.p);
  EXPECT_TRUE(all_close(y, naive_conv2d(in.x, in.w, in.b, c.p), 1e-5, 1e-5, "conv2d float32"));
}

TEST_P(ConvOracle, Float64MatchesNaive) {
  const ConvCase& c = GetParam();
  ConvInputs in = make_inputs(c, DType::Float64, 12);
  Tensor y = conv2d(in.x, in.w, in.b, c.p);
  EXPECT_EQ(y.dtype(), DType::Float64);
  EXPECT_TRUE(all_close(y, naive_conv2d(in.x, in.w, in.b, c.p), 1e-12, 1e-12, "conv2d float64"));
}

// Covers: strides 1/2 (also mixed), symmetric pads 0/1/2 (also mixed), groups 1/2/depthwise (with a
// channel multiplier too), kernels 1/3/5 and non-square, bias on/off, non-square inputs, and an
// input whose size leaves a remainder at stride 2.
const ConvCase kCases[] = {
    {"k3_s1_p1_bias", 2, 3, 7, 7, 4, 3, 3, params(1, 1, 1, 1, 1), true},
    {"k3_s1_p0_nobias", 1, 2, 6, 5, 3, 3, 3, params(1, 1, 0, 0, 1), false},
    {"k1_pointwise", 2, 8, 5, 6, 5, 1, 1, params(1, 1, 0, 0, 1), true},
    {"k1_stride2", 2, 4, 7, 6, 3, 1, 1, params(2, 2, 0, 0, 1), false},
    {"k1_pad1", 1, 3, 4, 4, 2, 1, 1, params(1, 1, 1, 1, 1), true},
    {"k5_s2_p2_nonsquare", 2, 3, 9, 11, 4, 5, 5, params(2, 2, 2, 2, 1), true},
    {"k3_s2_p0_remainder", 1, 2, 8, 9, 3, 3, 3, params(2, 2, 0, 0, 1), true},
    {"groups2", 2, 4, 6, 6, 6, 3, 3, params(1, 1, 1, 1, 2), true},
    {"groups2_s2_k1", 1, 6, 7, 7, 4, 1, 1, params(2, 2, 0, 0, 2), false},
    {"depthwise_k3", 2, 6, 7, 7, 6, 3, 3, params(1, 1, 1, 1, 6), true},
    {"depthwise_k5_s2", 2, 4, 9, 8, 4, 5, 5, params(2, 2, 2, 2, 4), false},
    {"depthwise_multiplier2", 1, 3, 6, 6, 6, 3, 3, params(1, 1, 1, 1, 3), true},
    {"kernel_3x1_mixed", 2, 2, 7, 5, 3, 3, 1, params(2, 1, 1, 0, 1), true},
    {"kernel_1x5_depthwise", 1, 3, 5, 9, 3, 1, 5, params(1, 2, 0, 2, 3), true},
};

INSTANTIATE_TEST_SUITE_P(Configs, ConvOracle, ::testing::ValuesIn(kCases),
                         CaseName());

TEST(Conv2d, HandComputedValues) {
  // 3x3 image 1..9, 2x2 kernel of ones: each output is the sum of one 2x2 window.
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = ones({1, 1, 2, 2});
  EXPECT_EQ(conv2d(x, w).to_vector<float>(), (std::vector<float>{12, 16, 24, 28}));
  Tensor b = from_vector<float>({0.5f}, {1});
  EXPECT_EQ(conv2d(x, w, b).to_vector<float>(), (std::vector<float>{12.5f, 16.5f, 24.5f, 28.5f}));
  // Padding 1, stride 2: windows at rows/cols -1 and 1: {1}, {2,3}, {4,7}, {5,6,8,9}.
  Conv2dParams p = params(2, 2, 1, 1, 1);
  Tensor y = conv2d(x, w, Tensor(), p);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 5, 11, 28}));
  // Depthwise: channel 0 scaled by 2, channel 1 by -1 (1x1 kernels).
  Tensor x2 = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 2, 2});
  Tensor w2 = from_vector<float>({2, -1}, {2, 1, 1, 1});
  EXPECT_EQ(conv2d(x2, w2, Tensor(), params(1, 1, 0, 0, 2)).to_vector<float>(),
            (std::vector<float>{2, 4, 6, 8, -5, -6, -7, -8}));
}

TEST(Conv2d, OutputShape) {
  Tensor x = zeros({2, 3, 224, 224});
  Tensor w = zeros({8, 3, 3, 3});
  EXPECT_EQ(conv2d(x, w, Tensor(), params(2, 2, 1, 1, 1)).shape(), (Shape{2, 8, 112, 112}));
  EXPECT_EQ(conv2d_output_size(15, 5, 2, 0), 6);
}

// ---- gradients ----------------------------------------------------------------------------------
class ConvGrad : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGrad, GradientCheck) {
  const ConvCase& c = GetParam();
  Tensor x = grad_input({c.n, c.c_in, c.h, c.w}, -1, 1, 21);
  Tensor w = grad_input({c.c_out, c.c_in / c.p.groups, c.kh, c.kw}, -1, 1, 22);
  Tensor b = c.bias ? grad_input({c.c_out}, -1, 1, 23) : Tensor();
  Conv2dParams p = c.p;
  EXPECT_TRUE(gradcheck([p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], p); }, {x, w, b}));
}

TEST_P(ConvGrad, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  const ConvCase& c = GetParam();
  ConvInputs in = make_inputs(c, DType::Float32, 31);
  in.x.set_requires_grad(true);
  in.w.set_requires_grad(true);
  if (in.b.defined()) in.b.set_requires_grad(true);
  Conv2dParams p = c.p;
  CompareOptions opts;
  opts.rtol = 1e-4;
  opts.atol = 1e-4;  // sums of up to a few hundred products of O(1) values in float32
  EXPECT_TRUE(cpu_cuda_match([p](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], p); },
                             {in.x, in.w, in.b}, opts));
}

INSTANTIATE_TEST_SUITE_P(Configs, ConvGrad, ::testing::ValuesIn(kCases),
                         CaseName());

TEST(Conv2d, GradientOfOneInputOnly) {
  // Only the weight wants a gradient: the input is saved, the weight is not (so changing the
  // weight in place before backward is harmless, changing the input is caught).
  Generator gen(5);
  Tensor x = uniform({2, 3, 5, 5}, -1, 1, gen, DType::Float64);
  Tensor w = grad_input({4, 3, 3, 3}, -1, 1, 6);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), params(1, 1, 1, 1, 1)); },
                        {x, w}));
  Tensor x2 = grad_input({2, 3, 5, 5}, -1, 1, 7);
  Tensor w2 = uniform({4, 3, 3, 3}, -1, 1, gen, DType::Float64);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), params(2, 2, 1, 1, 1)); },
                        {x2, w2}));
}

TEST(Conv2d, SavedInputModifiedInPlaceIsCaught) {
  Generator gen(8);
  Tensor x = uniform({1, 2, 4, 4}, -1, 1, gen);
  Tensor w = uniform({3, 2, 3, 3}, -1, 1, gen).set_requires_grad(true);
  Tensor y = conv2d(x, w, Tensor(), params(1, 1, 1, 1, 1));
  x.mul_(2.0);
  EXPECT_ERROR_HAS(sum(y).backward(), "modified in place");

  // The weight is not saved when only it needs a gradient: changing it does not affect dW.
  Tensor x2 = uniform({1, 2, 4, 4}, -1, 1, gen);
  Tensor w2 = uniform({3, 2, 3, 3}, -1, 1, gen).set_requires_grad(true);
  Tensor y2 = conv2d(x2, w2);
  Tensor expected;
  {
    Tensor w3 = w2.detach().clone().set_requires_grad(true);
    sum(conv2d(x2, w3)).backward();
    expected = w3.grad();
  }
  {
    NoGradGuard no_grad;
    w2.mul_(3.0);
  }
  sum(y2).backward();
  EXPECT_TRUE(all_close(w2.grad(), expected, 1e-6, 1e-6, "weight gradient"));
}

// ---- errors -------------------------------------------------------------------------------------
TEST(Conv2d, ChannelMismatchNamesShapes) {
  EXPECT_ERROR_HAS(conv2d(zeros({1, 3, 5, 5}), zeros({4, 2, 3, 3})), "conv2d", "[1, 3, 5, 5]", "[4, 2, 3, 3]");
}

TEST(Conv2d, GroupsNotDividingNamesShapes) {
  EXPECT_ERROR_HAS(conv2d(zeros({1, 3, 5, 5}), zeros({4, 1, 3, 3}), Tensor(), params(1, 1, 0, 0, 2)), "groups 2",
                   "[1, 3, 5, 5]");
  EXPECT_ERROR_HAS(conv2d(zeros({1, 4, 5, 5}), zeros({3, 2, 3, 3}), Tensor(), params(1, 1, 0, 0, 2)), "[3, 2, 3, 3]",
                   "output channels");
}

TEST(Conv2d, BadRanksAndShapesNameShapes) {
  EXPECT_ERROR_HAS(conv2d(zeros({1, 3, 5, 5}), zeros({4, 3, 3})), "weight must be 4-D", "[4, 3, 3]");
  EXPECT_ERROR_HAS(conv2d(zeros({3, 5, 5}), zeros({4, 3, 3, 3})), "input must be 4-D", "[3, 5, 5]");
  EXPECT_ERROR_HAS(conv2d(zeros({1, 3, 5, 5}), zeros({4, 3, 3, 3}), zeros({3})), "bias", "[3]");
  EXPECT_ERROR_HAS(conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 3, 3})), "larger than the padded input");
  EXPECT_THROW(conv2d(zeros({1, 3, 5, 5}), zeros({4, 3, 3, 3}, DType::Float64)), Error);
  EXPECT_THROW(conv2d(zeros({1, 3, 5, 5}), zeros({4, 3, 3, 3}), Tensor(), params(0, 1, 0, 0, 1)), Error);
  EXPECT_THROW(conv2d(zeros({1, 3, 5, 5}), zeros({4, 3, 3, 3}), Tensor(), params(1, 1, -1, 0, 1)), Error);
  EXPECT_THROW(conv2d(zeros({1, 3, 5, 5}), zeros({4, 3, 3, 3}), Tensor(), params(1, 1, 0, 0, 0)), Error);
}

// ---- CUDA ---------------------------------------------------------------------------------------
TEST(Conv2d, CudaLargerShapesMatchCpu) {
  EFFNET_REQUIRE_CUDA();
  // EfficientNet-like layers: stem (3x3 s2), depthwise 3x3 and 5x5 s2, pointwise expand/project.
  struct L {
    Shape x, w;
    Conv2dParams p;
  };
  const L layers[] = {
      {{4, 3, 32, 32}, {16, 3, 3, 3}, params(2, 2, 1, 1, 1)},
      {{4, 32, 16, 16}, {32, 1, 3, 3}, params(1, 1, 1, 1, 32)},
      {{4, 48, 17, 17}, {48, 1, 5, 5}, params(2, 2, 2, 2, 48)},
      {{4, 32, 16, 16}, {96, 32, 1, 1}, params(1, 1, 0, 0, 1)},
      {{4, 96, 8, 8}, {24, 96, 1, 1}, params(1, 1, 0, 0, 1)},
  };
  for (const L& l : layers) {
    Generator gen(41);
    Tensor x = uniform(l.x, -1, 1, gen).set_requires_grad(true);
    Tensor w = uniform(l.w, -0.5, 0.5, gen).set_requires_grad(true);
    Tensor b = uniform({l.w[0]}, -1, 1, gen).set_requires_grad(true);
    CompareOptions opts;
    opts.rtol = 1e-4;
    opts.atol = 5e-4;  // weight gradients sum over N*Ho*Wo = 1024 products
    Conv2dParams p = l.p;
    EXPECT_TRUE(cpu_cuda_match([p](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], p); }, {x, w, b},
                               opts))
        << shape_str(l.x) << " * " << shape_str(l.w);
  }
}

TEST(Conv2d, CudaRepeatedCallsReuseThePlan) {
  EFFNET_REQUIRE_CUDA();
  // The second call with one shape takes the cached algorithms; a different batch size makes a new
  // plan. Both must give the CPU result.
  Generator gen(51);
  Tensor w = uniform({8, 4, 3, 3}, -1, 1, gen);
  for (int64_t n : {2, 2, 3}) {
    Tensor x = uniform({n, 4, 9, 9}, -1, 1, gen);
    Tensor y = conv2d(x.to(Device::cuda()), w.to(Device::cuda()), Tensor(), params(1, 1, 1, 1, 1));
    EXPECT_TRUE(all_close(y, conv2d(x, w, Tensor(), params(1, 1, 1, 1, 1)), 1e-4, 1e-4, "repeated conv2d"));
  }
}

TEST(Conv2d, CudaRejectsFloat64) {
  EFFNET_REQUIRE_CUDA();
  Tensor x = zeros({1, 1, 3, 3}, DType::Float64, Device::cuda());
  Tensor w = zeros({1, 1, 1, 1}, DType::Float64, Device::cuda());
  EXPECT_ERROR_HAS(conv2d(x, w), "float32");
}
