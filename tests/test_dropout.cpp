// dropout / drop_connect: argument checks, identity cases, mask statistics, whole-sample masks,
// reproducibility from the generator, gradients, and identical masks on CPU and CUDA.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/framework.h"
#include "framework/ops/dropout.h"
#include "framework/ops/dropout_kernels.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

TEST(Dropout, ProbabilityOutsideRangeIsAnError) {
  Tensor x = ones({4, 3});
  Generator gen(1);
  for (double p : {-0.1, 1.0, 1.5}) {
    for (bool training : {true, false}) {
      try {
        dropout(x, p, training, gen);
        ADD_FAILURE() << "dropout accepted p = " << p;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("dropout: drop probability p must be in [0, 1)"), std::string::npos)
            << e.what();
      }
      EXPECT_THROW(drop_connect(x, p, training, gen), Error);
    }
  }
  Tensor scalar = Tensor::empty({});
  EXPECT_THROW(drop_connect(scalar, 0.5, true, gen), Error);
  EXPECT_THROW(dropout(zeros({3}, DType::Int64), 0.5, true, gen), Error);
}

TEST(Dropout, EvalAndZeroProbabilityAreIdentity) {
  Tensor x = uniform({5, 4}, -1, 1);
  Generator gen(2);
  EXPECT_TRUE(dropout(x, 0.5, false, gen).same(x));
  EXPECT_TRUE(dropout(x, 0.0, true, gen).same(x));
  EXPECT_TRUE(drop_connect(x, 0.5, false, gen).same(x));
  EXPECT_TRUE(drop_connect(x, 0.0, true, gen).same(x));
  EXPECT_EQ(gen.offset(), 0u);  // nothing drawn
}

TEST(Dropout, KeptFractionAndMeanMatchP) {
  const int64_t n = int64_t(1) << 20;
  Tensor x = ones({n});
  for (double p : {0.1, 0.3, 0.5, 0.8}) {
    Generator gen(3);
    std::vector<float> y = dropout(x, p, true, gen).to_vector<float>();
    EXPECT_EQ(gen.offset(), uint64_t(n));
    const float scale = float(1.0 / (1.0 - p));
    int64_t kept = 0;
    double total = 0;
    for (float v : y) {
      ASSERT_TRUE(v == 0.0f || v == scale) << v;
      kept += v != 0.0f;
      total += v;
    }
    // Binomial standard deviation of the kept fraction is below 5e-4 here: 10 of them.
    EXPECT_NEAR(double(kept) / double(n), 1.0 - p, 5e-3) << "p = " << p;
    EXPECT_NEAR(total / double(n), 1.0, 0.02) << "p = " << p;
  }
}

TEST(Dropout, MaskFollowsTheGenerator) {
  Tensor x = uniform({64, 33}, 1, 2);
  Generator a(7), b(7);
  Tensor y1 = dropout(x, 0.4, true, a), y2 = dropout(x, 0.4, true, b);
  EXPECT_EQ(y1.to_vector<float>(), y2.to_vector<float>());  // same state, same mask
  Tensor y3 = dropout(x, 0.4, true, a);                     // next draw: a different mask
  EXPECT_NE(y1.to_vector<float>(), y3.to_vector<float>());
  Generator c(8);
  EXPECT_NE(dropout(x, 0.4, true, c).to_vector<float>(), y1.to_vector<float>());
  // Kept values are x / (1 - p) exactly.
  std::vector<float> xv = x.to_vector<float>(), yv = y1.to_vector<float>();
  for (size_t i = 0; i < xv.size(); ++i)
    if (yv[i] != 0.0f) EXPECT_EQ(yv[i], xv[i] * float(1.0 / 0.6));
}

TEST(Dropout, BackwardAppliesTheSameMask) {
  Tensor x = uniform({10, 17}, 1, 2).set_requires_grad(true);
  Generator gen(9);
  Tensor y = dropout(x, 0.25, true, gen);
  sum(y).backward();
  std::vector<float> yv = y.to_vector<float>(), gv = x.grad().to_vector<float>();
  const float scale = float(1.0 / 0.75);
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_EQ(gv[i], yv[i] != 0.0f ? scale : 0.0f) << i;
}

// The CPU loop (one keep decision per group, then a plain scale or zero fill that vectorises)
// against the keep decision and element step that the CUDA kernels share, element by element.
TEST(Dropout, CpuLoopMatchesTheSharedElementStep) {
  Tensor x = uniform({5, 3, 7, 11}, -2, 2);  // 1155 elements: drop-connect groups of 231
  const std::vector<float> xv = x.to_vector<float>();
  for (double p : {0.2, 0.5}) {
    const float scale = float(1.0 / (1.0 - p));
    for (bool per_sample : {false, true}) {
      Generator gen(12);
      const uint64_t seed = gen.seed(), offset = gen.offset();
      const std::vector<float> yv =
          (per_sample ? drop_connect(x, p, true, gen) : dropout(x, p, true, gen)).to_vector<float>();
      const uint64_t group = per_sample ? xv.size() / 5 : 1;
      for (size_t i = 0; i < xv.size(); ++i) {
        const bool keep = drop_keep(seed, offset + i / group, float(p));
        ASSERT_EQ(yv[i], drop_element(keep, xv[i], scale)) << (per_sample ? "drop_connect" : "dropout") << " p = " << p
                                                           << " at " << i;
      }
    }
  }
}

TEST(Dropout, GradientCheck) {
  // The generator is re-created inside the function, so every evaluation uses one mask.
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator gen(10);
        return dropout(in[0], 0.3, true, gen);
      },
      {grad_input({4, 5, 3})}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator gen(11);
        return drop_connect(in[0], 0.5, true, gen);
      },
      {grad_input({6, 2, 3, 2})}));
}

TEST(DropConnect, ZeroesWholeSamples) {
  Generator gen(12);
  const int64_t N = 20000;
  Tensor x = uniform({N, 2, 2, 3}, 1, 2, gen);
  const double p = 0.2;
  Tensor y = drop_connect(x, p, true, gen);
  EXPECT_EQ(gen.offset(), uint64_t(12 * N) + uint64_t(N));  // the uniform draw, then one counter per sample
  std::vector<float> xv = x.to_vector<float>(), yv = y.to_vector<float>();
  const float scale = float(1.0 / (1.0 - p));
  int64_t kept = 0;
  for (int64_t n = 0; n < N; ++n) {
    const bool keep = yv[size_t(n * 12)] != 0.0f;
    kept += keep;
    for (int64_t i = 0; i < 12; ++i) {
      size_t k = size_t(n * 12 + i);
      ASSERT_EQ(yv[k], keep ? xv[k] * scale : 0.0f) << "sample " << n << " element " << i;
    }
  }
  // Binomial standard deviation of the kept fraction: about 2.8e-3.
  EXPECT_NEAR(double(kept) / double(N), 1.0 - p, 0.015);
}

TEST(DropConnect, BackwardAppliesTheSameSampleMask) {
  Tensor x = uniform({32, 3, 2}, 1, 2).set_requires_grad(true);
  Generator gen(13);
  Tensor y = drop_connect(x, 0.5, true, gen);
  sum(y).backward();
  std::vector<float> yv = y.to_vector<float>(), gv = x.grad().to_vector<float>();
  int kept = 0;
  for (size_t i = 0; i < yv.size(); ++i) {
    EXPECT_EQ(gv[i], yv[i] != 0.0f ? 2.0f : 0.0f) << i;
    kept += yv[i] != 0.0f;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, int(yv.size()));
}

namespace {
// The two ops, each with the generator seed its CPU-vs-CUDA masks are drawn from.
struct MaskOp {
  const char* name;
  Tensor (*f)(const Tensor&, double, bool, Generator&);
  uint64_t seed;
};
const MaskOp kMaskOps[] = {{"dropout", dropout, 15}, {"drop_connect", drop_connect, 16}};
}  // namespace

TEST(DropoutCuda, SameMasksAsCpu) {
  EFFNET_REQUIRE_CUDA();
  CompareOptions exact;
  exact.rtol = 0.0;
  exact.atol = 0.0;
  Generator data(14);
  // {70000, 3}: more samples than gridDim.y (65535), so drop_connect's sample loop strides.
  for (Shape s : {Shape{8, 4, 5, 5}, Shape{64, 32, 17, 17}, Shape{3, 7}, Shape{70000, 3}}) {
    Tensor x = normal(s, 0, 1, data).set_requires_grad(true);
    for (double p : {0.2, 0.5}) {
      for (const MaskOp& op : kMaskOps) {
        EXPECT_TRUE(cpu_cuda_match(
            [&](const std::vector<Tensor>& in) {
              Generator gen(op.seed);
              return op.f(in[0], p, true, gen);
            },
            {x}, exact))
            << op.name << " " << shape_str(s) << " p " << p;
      }
    }
  }
  // float64 on the GPU too (the kernels are templated), and the generator advances alike.
  Tensor xd = normal({5, 9}, 0, 1, data, DType::Float64);
  Generator gc(17), gg(17);
  Tensor yc = dropout(xd, 0.5, true, gc), yg = dropout(xd.to(Device::cuda()), 0.5, true, gg);
  EXPECT_TRUE(all_close(yg, yc, 0.0, 0.0, "float64 dropout"));
  EXPECT_EQ(gc.offset(), gg.offset());
}
