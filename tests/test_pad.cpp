// pad2d and same_padding: values, TF 'SAME' numbers, agreement with conv2d's own padding,
// gradient checks, errors, and CPU-vs-CUDA agreement.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framework/framework.h"
#include "framework/ops/conv2d.h"
#include "framework/ops/pad.h"
#include "tests/testing/compare.h"
#include "tests/testing/errors.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

TEST(Pad2d, Values) {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor y = pad2d(x, 1, 0, 0, 2);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 4}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0}));
  // Any rank >= 2: the last two dimensions are padded, each leading index separately.
  Tensor x2 = from_vector<float>({1, 2, 3, 4}, {2, 1, 2});
  EXPECT_EQ(pad2d(x2, 0, 1, 1, 0).to_vector<float>(), (std::vector<float>{0, 1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0}));
  Tensor x3 = from_vector<double>({5, 6}, {1, 2});
  EXPECT_EQ(pad2d(x3, 0, 0, 1, 1).to_vector<double>(), (std::vector<double>{0, 5, 6, 0}));
  // No padding is a copy.
  EXPECT_EQ(pad2d(x, 0, 0, 0, 0).to_vector<float>(), x.to_vector<float>());
}

TEST(Pad2d, SamePaddingValues) {
  auto check = [](int64_t i, int64_t k, int64_t s, int64_t before, int64_t after) {
    SamePadding p = same_padding(i, i, k, s);
    EXPECT_EQ(p.top, before) << "i=" << i << " k=" << k << " s=" << s;
    EXPECT_EQ(p.bottom, after) << "i=" << i << " k=" << k << " s=" << s;
    EXPECT_EQ(p.left, before);
    EXPECT_EQ(p.right, after);
  };
  check(224, 3, 2, 0, 1);
  check(56, 5, 2, 1, 2);
  check(15, 5, 2, 2, 2);
  check(112, 3, 1, 1, 1);
  check(28, 5, 1, 2, 2);
  check(7, 1, 1, 0, 0);
  check(14, 1, 2, 0, 0);
  check(2, 5, 2, 1, 2);  // kernel wider than the input: pad = (1-1)*2 + 5 - 2 = 3
  // Height and width are independent.
  SamePadding p = same_padding(15, 224, 5, 2);
  EXPECT_EQ(p.top, 2);
  EXPECT_EQ(p.bottom, 2);
  EXPECT_EQ(p.left, 1);
  EXPECT_EQ(p.right, 2);
  EXPECT_FALSE(p.symmetric());
  EXPECT_TRUE(same_padding(7, 7, 1, 1).none());
  EXPECT_THROW(same_padding(0, 7, 3, 1), Error);
}

TEST(Pad2d, SameThenConvGivesCeilOutputSize) {
  Generator gen(3);
  for (int64_t i : {15, 16, 224}) {
    Tensor x = uniform({1, 2, i, i}, -1, 1, gen);
    Tensor w = uniform({3, 2, 5, 5}, -1, 1, gen);
    Conv2dParams p;
    p.stride_h = p.stride_w = 2;
    Tensor y = conv2d(pad2d(x, same_padding(i, i, 5, 2)), w, Tensor(), p);
    EXPECT_EQ(y.shape(), (Shape{1, 3, (i + 1) / 2, (i + 1) / 2})) << i;
  }
}

TEST(Pad2d, SymmetricPadThenConvEqualsConvPadding) {
  Generator gen(4);
  Tensor x = uniform({2, 3, 7, 6}, -1, 1, gen);
  Tensor w = uniform({4, 3, 3, 3}, -1, 1, gen);
  Conv2dParams padded;
  padded.pad_h = 1;
  padded.pad_w = 2;
  padded.stride_h = padded.stride_w = 2;
  Conv2dParams unpadded;
  unpadded.stride_h = unpadded.stride_w = 2;
  EXPECT_TRUE(all_close(conv2d(pad2d(x, 1, 1, 2, 2), w, Tensor(), unpadded), conv2d(x, w, Tensor(), padded), 1e-6,
                        1e-6, "pad2d + conv2d"));
}

TEST(Pad2d, GradientCheck) {
  Tensor x = grad_input({2, 3, 4, 5});
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return pad2d(in[0], 0, 1, 2, 1); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return pad2d(in[0], 3, 0, 0, 0); }, {x}));
  Tensor x2 = grad_input({3, 4});
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return pad2d(in[0], 1, 1, 1, 1); }, {x2}));
  // Composed with a convolution (the SAME-padded conv of TF-lineage models).
  Tensor w = grad_input({2, 3, 3, 3}, -1, 1, 9);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        Conv2dParams p;
        p.stride_h = p.stride_w = 2;
        return conv2d(pad2d(in[0], same_padding(4, 5, 3, 2)), in[1], Tensor(), p);
      },
      {x, w}));
}

TEST(Pad2d, BackwardCropsTheGradient) {
  Tensor x = zeros({1, 1, 2, 2}).set_requires_grad(true);
  Tensor g = arange(12).reshape({1, 1, 3, 4});
  pad2d(x, 1, 0, 1, 1).backward(g);
  // Rows 1..2, columns 1..2 of [[0 1 2 3] [4 5 6 7] [8 9 10 11]].
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{5, 6, 9, 10}));
}

TEST(Pad2d, Errors) {
  EXPECT_ERROR_HAS(pad2d(zeros({1, 1, 3, 3}), -1, 0, 0, 0), "pad2d", "[1, 1, 3, 3]");
  EXPECT_ERROR_HAS(pad2d(zeros({5}), 1, 1, 1, 1), "at least 2 dimensions", "[5]");
}

TEST(Pad2d, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator gen(6);
  Tensor x = uniform({4, 8, 15, 16}, -1, 1, gen).set_requires_grad(true);
  for (auto pads : {std::vector<int64_t>{0, 1, 0, 1}, {2, 2, 2, 2}, {1, 0, 3, 0}, {0, 0, 0, 0}}) {
    EXPECT_TRUE(cpu_cuda_match(
        [&](const std::vector<Tensor>& in) { return pad2d(in[0], pads[0], pads[1], pads[2], pads[3]); }, {x}));
  }
  Tensor x2 = uniform({5, 7}, -1, 1, gen).set_requires_grad(true);
  EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return pad2d(in[0], 1, 2, 3, 4); }, {x2}));
}

TEST(Pad2d, CudaSamePaddedConvMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator gen(7);
  Tensor x = uniform({2, 16, 28, 28}, -1, 1, gen).set_requires_grad(true);
  Tensor w = uniform({16, 1, 5, 5}, -1, 1, gen).set_requires_grad(true);
  CompareOptions opts;
  opts.atol = 2e-4;
  EXPECT_TRUE(cpu_cuda_match(
      [](const std::vector<Tensor>& in) {
        Conv2dParams p;
        p.stride_h = p.stride_w = 2;
        p.groups = 16;
        return conv2d(pad2d(in[0], same_padding(28, 28, 5, 2)), in[1], Tensor(), p);
      },
      {x, w}, opts));
}
