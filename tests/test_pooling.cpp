// global_avg_pool2d: values, gradient (hand-computed and gradcheck), errors and CPU-vs-CUDA.
#include <gtest/gtest.h>

#include "framework/framework.h"
#include "framework/ops/pooling.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

TEST(GlobalAvgPool, Values) {
  // Plane p holds 4p, 4p+1, 4p+2, 4p+3: mean 4p + 1.5.
  Tensor x = arange(24).reshape({2, 3, 2, 2});
  Tensor y = global_avg_pool2d(x);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f}));
  Tensor single = from_vector<double>({3, -1, 7}, {1, 3, 1, 1});
  EXPECT_EQ(global_avg_pool2d(single).to_vector<double>(), (std::vector<double>{3, -1, 7}));
}

TEST(GlobalAvgPool, BackwardSpreadsGradientEvenly) {
  Tensor x = uniform({2, 2, 3, 5}, -1, 1).set_requires_grad(true);
  Tensor w = from_vector<float>({1, 2, 3, 4}, {2, 2, 1, 1});
  sum(mul(global_avg_pool2d(x), w)).backward();
  std::vector<float> g = x.grad().to_vector<float>();
  for (size_t k = 0; k < g.size(); ++k) EXPECT_FLOAT_EQ(g[k], float(k / 15 + 1) / 15.0f) << k;
}

TEST(GlobalAvgPool, GradientCheck) {
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return global_avg_pool2d(in[0]); }, {grad_input({2, 3, 4, 5})}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return global_avg_pool2d(in[0]); }, {grad_input({3, 2, 1, 1})}));
}

TEST(GlobalAvgPool, BadInputs) {
  try {
    global_avg_pool2d(zeros({2, 3, 4}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("global_avg_pool2d: expected a 4-D"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 3, 4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(global_avg_pool2d(zeros({2, 3, 0, 4})), Error);
  EXPECT_THROW(global_avg_pool2d(zeros({2, 3, 2, 2}, DType::Int64)), Error);
}

TEST(GlobalAvgPoolCuda, MatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator gen(31);
  // 7x7 and 33x17 planes (lanes with uneven work), 1x1 planes, and many planes (several blocks).
  for (Shape s : {Shape{2, 3, 7, 7}, Shape{3, 5, 33, 17}, Shape{4, 40, 1, 1}, Shape{16, 320, 10, 10}}) {
    Tensor x = normal(s, 0.5, 1.0, gen).set_requires_grad(true);
    EXPECT_TRUE(cpu_cuda_match([](const std::vector<Tensor>& in) { return global_avg_pool2d(in[0]); }, {x}))
        << shape_str(s);
  }
}
