// The autograd engine: summing at shared tensors, branches, no-grad, the in-place check,
// retained and freed graphs, leaf accumulation (without a copy where the gradient is the engine's
// alone), and the op counter.
#include <gtest/gtest.h>

#include <thread>

#include "framework/core/op_count.h"
#include "framework/framework.h"
#include "tests/testing/compare.h"
#include "tests/testing/errors.h"

using namespace effnet;

namespace {
Tensor leaf(std::vector<double> v) {
  return from_vector<double>(v, {int64_t(v.size())}).set_requires_grad(true);
}
}  // namespace

TEST(Autograd, TensorUsedTwiceGetsSummedGradient) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = sum(mul(x, x));  // d/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
}

TEST(Autograd, BranchesMeetAgain) {
  Tensor x = leaf({1, 2});
  Tensor a = mul(x, 3.0), b = add(x, 1.0);
  Tensor y = sum(mul(a, b));  // 3x(x+1) -> 6x + 3
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{9, 15}));
}

TEST(Autograd, LeafGradientsAccumulateAcrossBackwards) {
  Tensor x = leaf({1, 2});
  sum(mul(x, 2.0)).backward();
  sum(mul(x, 2.0)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 4}));
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = leaf({1, 2});
  Tensor y;
  {
    NoGradGuard guard;
    y = mul(x, 2.0);
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_THROW(y.backward(), Error);
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = leaf({1, 2});
  Tensor y = mul(x, 2.0).detach();
  EXPECT_FALSE(y.requires_grad());
  Tensor z = sum(mul(mul(x, 1.0), y));  // gradient flows only through the first factor
  z.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4}));
}

TEST(Autograd, InPlaceChangeOfSavedTensorFailsClearly) {
  Tensor x = leaf({1, 2});
  Tensor a = add(x, 0.0);
  Tensor y = sum(mul(a, a));  // saves a
  {
    NoGradGuard guard;
    a.mul_(2.0);
  }
  EXPECT_ERROR_HAS(y.backward(), "modified in place");
}

TEST(Autograd, InPlaceOnLeafThatRequiresGradIsRefused) {
  Tensor x = leaf({1, 2});
  EXPECT_THROW(x.fill_(0.0), Error);
  NoGradGuard guard;
  EXPECT_NO_THROW(x.fill_(0.0));
}

TEST(Autograd, RetainGraphAllowsSecondBackward) {
  Tensor x = leaf({3});
  Tensor y = sum(mul(x, x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{12}));
  // The graph is now freed: a third backward fails.
  EXPECT_ERROR_HAS(y.backward(), "second time");
}

TEST(Autograd, BackwardNeedsScalarOrGradient) {
  Tensor x = leaf({1, 2});
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(y.backward(), Error);
  y.backward(from_vector<double>({1, 10}, {2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 20}));
}

TEST(Autograd, ViewsPropagateGradients) {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2}).set_requires_grad(true);
  Tensor y = sum(mul(x.slice(1, 3).reshape({4}), 2.0));
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 2, 2, 2, 2}));
}

TEST(Autograd, LongChainDoesNotOverflowTheStack) {
  Tensor x = leaf({1});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = add(y, 1.0);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<double>()[0], 1.0);
}

TEST(Autograd, CudaGraphRunsOnDevice) {
  EFFNET_REQUIRE_CUDA();
  Tensor x = from_vector<float>({1, 2, 3}, {3}, Device::cuda()).set_requires_grad(true);
  sum(mul(x, x)).backward();
  EXPECT_TRUE(x.grad().is_cuda());
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4, 6}));
}

// ---- accumulation without copies ----------------------------------------------------------------

TEST(Autograd, FirstGradientBecomesGradWithoutACopy) {
  Tensor w = leaf({1, 2, 3});
  Tensor y = sum(mul(w, 2.0));
  OpCounter counter;
  y.backward();
  EXPECT_EQ(counter.counts().by_name.count("copy"), 0u) << "the leaf's gradient was copied";
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{2, 2, 2}));
  // A second backward adds into that gradient, in place.
  sum(mul(w, 3.0)).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{5, 5, 5}));
}

TEST(Autograd, SharedGradientIsCopiedNotAliased) {
  // add's backward hands one gradient to both inputs: each leaf must get memory of its own, or
  // accumulating into one would change the other.
  Tensor a = leaf({1, 2}), b = leaf({3, 4});
  sum(add(a, b)).backward();
  ASSERT_NE(a.grad().raw_data(), b.grad().raw_data());
  sum(mul(a, 10.0)).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{11, 11}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 1}));
}

TEST(Autograd, CallersGradientIsNotKeptAsGrad) {
  // The gradient passed to backward() stays the caller's, directly or through a view.
  Tensor p = leaf({1, 2, 3, 4});
  Tensor g = from_vector<double>({1, 1, 1, 1}, {4});
  p.backward(g);
  g.fill_(7.0);
  EXPECT_EQ(p.grad().to_vector<double>(), (std::vector<double>{1, 1, 1, 1}));

  Tensor q = leaf({1, 2, 3, 4});
  Tensor g2 = from_vector<double>({1, 2, 3, 4}, {2, 2});
  q.reshape({2, 2}).backward(g2);
  g2.fill_(7.0);
  EXPECT_EQ(q.grad().to_vector<double>(), (std::vector<double>{1, 2, 3, 4}));
}

// ---- op counter ---------------------------------------------------------------------------------

TEST(OpCounter, CountsThisThreadsOpsAndNests) {
  Tensor a = from_vector<double>({1, 2, 3}, {3});
  OpCounter outer;
  a.fill_(1.0);  // one backend call
  {
    OpCounter inner;
    Tensor b = a.clone();  // one copy
    b.add_(a);             // one backend call
    EXPECT_EQ(inner.counts().ops, 2u);
    EXPECT_EQ(inner.counts().by_name.at("copy"), 1u);
    EXPECT_EQ(inner.counts().by_name.at("axpy"), 1u);
  }
  EXPECT_EQ(outer.counts().ops, 3u);
  EXPECT_EQ(outer.counts().by_name.at("fill"), 1u);
  // Another thread's ops are not this thread's.
  std::thread([&] { a.clone().fill_(2.0); }).join();
  EXPECT_EQ(outer.counts().ops, 3u);
  EXPECT_EQ(outer.counts().cuda_launches, 0u);  // nothing ran on a GPU
  outer.reset();
  EXPECT_EQ(outer.counts().ops, 0u);
  EXPECT_TRUE(outer.counts().by_name.empty());
}
