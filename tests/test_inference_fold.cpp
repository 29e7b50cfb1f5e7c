// The inference path: batch norm folded into the preceding convolution and the activation fused
// into its output pass (layers/conv_bn_fold.h, conv2d.h's FusedActivation), checked against the
// unfused ops; and the CPU kernels' instruction-set copies (baseline, AVX2, AVX-512) against the
// baseline reference on whatever this machine has.
#include <gtest/gtest.h>

#include "efficientnet/efficientnet.h"
#include "framework/core/cpu_parallel.h"
#include "testing/compare.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dParams p;
  bool bias;
};

// Every CPU algorithm: GEMM chunked (many small images) and per image, dense (1x1 on 1x1), grouped,
// strided im2col, depthwise channels-last and with a channel multiplier.
const std::vector<ConvCase> kConvCases = {
    {"pointwise_chunked", {16, 24, 4, 4}, {40, 24, 1, 1}, {}, true},
    {"pointwise_per_image", {2, 16, 96, 96}, {24, 16, 1, 1}, {}, false},
    {"dense", {8, 32, 1, 1}, {12, 32, 1, 1}, {}, true},
    {"strided_3x3", {3, 5, 9, 9}, {7, 5, 3, 3}, {2, 2, 1, 1, 1}, true},
    {"grouped", {2, 8, 6, 6}, {12, 4, 3, 3}, {1, 1, 1, 1, 2}, true},
    {"depthwise", {2, 32, 10, 10}, {32, 1, 3, 3}, {1, 1, 1, 1, 32}, true},
    {"depthwise_multiplier", {2, 4, 7, 7}, {8, 1, 5, 5}, {2, 2, 2, 2, 4}, false},
};

}  // namespace

TEST(InferenceFold, FusedActivationEqualsSeparateOp) {
  const std::vector<FusedActivation> acts = {FusedActivation::None, FusedActivation::Silu, FusedActivation::Relu6,
                                              FusedActivation::Relu, FusedActivation::Sigmoid};
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (const ConvCase& c : kConvCases) {
      Generator g(3);
      Tensor x = normal(c.x, 0, 2, g).to(dt), w = normal(c.w, 0, 1, g).to(dt);
      Tensor b = c.bias ? normal({c.w[0]}, 0, 1, g).to(dt) : Tensor();
      for (FusedActivation a : acts) {
        Conv2dParams fused = c.p;
        fused.activation = a;
        Tensor want = apply_activation(conv2d(x, w, b, c.p), a);  // the separate unary op
        Tensor got = conv2d(x, w, b, fused);
        // The same formulas on the same values: equal up to the vector copies' rounding.
        EXPECT_TRUE(all_close(got, want, dt == DType::Float32 ? 1e-6 : 1e-14, dt == DType::Float32 ? 1e-6 : 1e-14,
                              std::string(c.name) + " activation " + std::to_string(int(a))));
      }
    }
  }
}

TEST(InferenceFold, FusedActivationRefusesAutograd) {
  Tensor x = ones({1, 2, 3, 3}).set_requires_grad(true), w = ones({2, 2, 1, 1});
  Conv2dParams p;
  p.activation = FusedActivation::Silu;
  EXPECT_THROW(conv2d(x, w, Tensor(), p), Error);
  NoGradGuard no_grad;
  EXPECT_NO_THROW(conv2d(x, w, Tensor(), p));
}

// The squeeze-excitation gate applied inside the projection: dense (1x1 planes), chunks of small
// images (scaled in the column copy) and one image per chunk (weight scaled per image).
TEST(InferenceFold, ScaledInputConvEqualsScalingFirst) {
  struct Case {
    const char* name;
    Shape x;
    int64_t c_out;
  };
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (const Case& c : {Case{"dense", {8, 40, 1, 1}, 24}, Case{"chunked", {16, 24, 4, 4}, 40},
                          Case{"chunked_last_chunk_of_one", {3, 32, 64, 128}, 32},  // 2 images per chunk, then 1
                          Case{"per_image", {2, 32, 112, 112}, 16}}) {
      Generator g(8);
      Tensor x = normal(c.x, 0, 1, g).to(dt), s = uniform({c.x[0], c.x[1], 1, 1}, 0, 1, g).to(dt);
      Tensor w = normal({c.c_out, c.x[1], 1, 1}, 0, 1, g).to(dt), b = normal({c.c_out}, 0, 1, g).to(dt);
      Conv2dParams p;
      p.activation = FusedActivation::Silu;
      Tensor want = silu(conv2d(mul(x, s), w, b));
      const double tol = dt == DType::Float32 ? 1e-5 : 1e-13;
      EXPECT_TRUE(all_close(conv2d_scaled_input(x, s, w, b, p), want, tol, tol, c.name));
    }
  }
  Tensor x = ones({2, 4, 5, 5}), s = ones({2, 4, 1, 1});
  EXPECT_THROW(conv2d_scaled_input(x, s, ones({4, 4, 3, 3})), Error);   // not pointwise
  EXPECT_THROW(conv2d_scaled_input(x, ones({2, 4}), ones({4, 4, 1, 1})), Error);  // scale shape
  s.set_requires_grad(true);
  EXPECT_THROW(conv2d_scaled_input(x, s, ones({4, 4, 1, 1})), Error);  // inference only
}

namespace {

// BN with statistics and affine parameters far from the identity, so that folding matters.
void randomise_batch_norms(nn::Module& m, uint64_t seed) {
  NoGradGuard no_grad;
  Generator g(seed);
  m.visit([&](const std::string&, nn::Module& mod) {
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&mod)) {
      const int64_t c = bn->channels();
      bn->running_mean.copy_(normal({c}, 0, 0.5, g));
      bn->running_var.copy_(uniform({c}, 0.2, 2.0, g));
      bn->weight.copy_(uniform({c}, 0.5, 1.5, g));
      bn->bias.copy_(normal({c}, 0, 0.3, g));
    }
  });
}

}  // namespace

TEST(InferenceFold, ConvBnFoldEqualsConvThenBatchNorm) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (bool with_bias : {false, true}) {
      Generator g(11);
      nn::Conv2d conv(nn::Conv2dOptions{6, 10, 3, 2, 1, with_bias}, g);
      nn::BatchNorm2d bn(10);
      conv.to(dt);
      bn.to(dt);
      randomise_batch_norms(bn, 12);
      if (with_bias) {
        NoGradGuard no_grad;
        conv.bias.copy_(normal({10}, 0, 1, g));
      }
      bn.eval();
      Tensor x = normal({4, 6, 9, 9}, 0, 1, g).to(dt);
      nn::ConvBnFold fold;
      for (nn::Activation a : {nn::Activation::Swish, nn::Activation::ReLU6, nn::Activation::Identity}) {
        Tensor want = nn::activate(bn.forward(conv.forward(x)), a);  // parameters require grad: unfolded
        NoGradGuard no_grad;
        ASSERT_TRUE(nn::ConvBnFold::folds(conv, bn, x));
        const double tol = dt == DType::Float32 ? 2e-5 : 1e-12;
        EXPECT_TRUE(all_close(fold.forward(conv, bn, a, x), want, tol, tol, "folded"));
      }
    }
  }
}

TEST(InferenceFold, FoldIsRecomputedWhenItsSourcesChange) {
  Generator g(5);
  nn::Conv2d conv(nn::Conv2dOptions{4, 4, 1, 1, 1, false}, g);
  nn::BatchNorm2d bn(4);
  bn.eval();
  nn::ConvBnFold fold;
  auto [w0, b0] = fold.folded(conv, bn);
  auto [w1, b1] = fold.folded(conv, bn);
  EXPECT_EQ(w0.raw_data(), w1.raw_data()) << "unchanged sources: the cached fold";
  auto check = [&](const char* what) {
    auto [w, b] = fold.folded(conv, bn);
    Tensor s = div(bn.weight, sqrt(affine(bn.running_var, 1.0, bn.options().eps)));
    EXPECT_TRUE(all_close(w, mul(conv.weight, s.reshape({4, 1, 1, 1})), 1e-6, 1e-7, what));
    EXPECT_TRUE(all_close(b, add(mul(affine(bn.running_mean, -1.0, 0.0), s), bn.bias), 1e-6, 1e-7, what));
  };
  NoGradGuard no_grad;
  bn.running_mean.fill_(0.5);  // a checkpoint load or a training step's statistics
  check("running_mean changed");
  bn.running_var.fill_(3.0);
  check("running_var changed");
  conv.weight.mul_(2.0);  // an optimizer step
  check("weight changed");
  bn.weight = full({4}, 0.25);  // replaced by another tensor
  check("gamma replaced");
  bn.bias.fill_(-1.0);
  check("beta changed");
}

namespace {

// Eval-mode probabilities of a network: folded (no autograd) or unfolded (parameters require grad
// and autograd is on, so nothing folds).
Tensor probabilities(EfficientNet& net, const Tensor& x, bool fold) {
  if (fold) {
    NoGradGuard no_grad;
    return softmax(net.forward(x), 1);
  }
  return softmax(net.forward(x), 1).detach();
}

}  // namespace

// The bar: predictions identical in class and within 1e-5 relative in probability to the
// unfused path, for a swish network (B0) and a ReLU6 one (Lite0).
TEST(InferenceFold, WholeNetworkMatchesUnfused) {
  for (const char* name : {"b0", "lite0"}) {
    Generator g(31), data(32);
    auto net = make_efficientnet(name, 10, g);
    randomise_batch_norms(*net, 33);
    net->eval();
    Tensor x = normal({6, 3, 32, 32}, 0, 1, data);
    Tensor unfused = probabilities(*net, x, false), folded = probabilities(*net, x, true);
    EXPECT_LT(relative_l2(folded, unfused), 1e-5) << name;
    EXPECT_TRUE(all_close(folded, unfused, 1e-5, 1e-7, std::string(name) + " probabilities"));
    EXPECT_EQ(argmax(folded, 1).to_vector<int64_t>(), argmax(unfused, 1).to_vector<int64_t>()) << name;
  }
}

// Every instruction-set copy of the CPU kernels this machine can run gives the baseline copy's
// results up to rounding: the ops with vector loops one by one, and B0 in training and inference.
TEST(CpuIsa, EveryCopyMatchesTheBaseline) {
  const cpu::CpuIsa detected = cpu::cpu_isa_detected();
  struct Outputs {
    std::vector<Tensor> t;
  };
  auto run = [](cpu::CpuIsa isa, DType net_dtype) {
    const cpu::CpuIsa saved = cpu::set_cpu_isa_limit(isa);
    EXPECT_EQ(cpu::cpu_isa(), isa);
    Generator g(41), data(42);
    Outputs o;
    Tensor a = normal({4, 48, 9, 9}, 0, 3, data), s = normal({4, 48, 1, 1}, 0, 1, data);
    o.t.push_back(silu(a));
    o.t.push_back(sigmoid(a));
    o.t.push_back(relu6(a));
    o.t.push_back(mul(a, s));
    o.t.push_back(add(a, a));
    o.t.push_back(global_avg_pool2d(a));
    o.t.push_back(sum(a, {2, 3}));
    o.t.push_back(softmax(a.reshape({4, -1}), 1));
    Tensor w = normal({48, 1, 3, 3}, 0, 1, data);
    Conv2dParams dw{1, 1, 1, 1, 48};
    o.t.push_back(conv2d(a, w, Tensor(), dw));
    dw.activation = FusedActivation::Silu;
    {
      NoGradGuard no_grad;
      o.t.push_back(conv2d(a, w, Tensor(), dw));
    }
    auto net = make_efficientnet("b0", 10, g);
    net->to(net_dtype);
    Tensor x = normal({4, 3, 32, 32}, 0, 1, data).to(net_dtype);
    Tensor y = randint(0, 10, {4}, data);
    manual_seed(7);
    Tensor logits = net->forward(x);
    cross_entropy(logits, y).backward();
    o.t.push_back(logits.detach());
    for (const Tensor& p : net->parameters()) o.t.push_back(p.grad());
    net->eval();
    {
      NoGradGuard no_grad;
      o.t.push_back(net->forward(x));
    }
    cpu::set_cpu_isa_limit(saved);
    return o;
  };
  // The network in float64 too: there the copies must agree to rounding of double (measured
  // 2e-13), which a wrong vector loop cannot, while float32's bounds must allow train-mode BN over
  // 4 values per channel in the last stages amplifying float rounding (measured 1.2e-4 logits,
  // 4.1e-4 gradients).
  for (DType dt : {DType::Float32, DType::Float64}) {
    const bool f32 = dt == DType::Float32;
    const Outputs base = run(cpu::CpuIsa::Baseline, dt);
    for (cpu::CpuIsa isa : {cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512}) {
      if (int(isa) > int(detected)) {
        std::cout << "[ skipped  ] " << cpu::cpu_isa_name(isa) << ": not on this CPU\n";
        continue;
      }
      const Outputs got = run(isa, dt);
      const std::string what = std::string(cpu::cpu_isa_name(isa)) + " " + dtype_name(dt);
      ASSERT_EQ(got.t.size(), base.t.size());
      for (size_t i = 0; i < 10; ++i) EXPECT_LT(relative_l2(got.t[i], base.t[i]), 1e-6) << what << " op output " << i;
      EXPECT_LT(relative_l2(got.t[10], base.t[10]), f32 ? 5e-4 : 1e-10) << what << " training logits";
      const std::vector<Tensor> gb(base.t.begin() + 11, base.t.end() - 1), gg(got.t.begin() + 11, got.t.end() - 1);
      EXPECT_LT(relative_l2(gg, gb), f32 ? 2e-3 : 1e-10) << what << " gradients";
      // Running statistics of one step from a random start leave activations far from unit scale,
      // which amplifies rounding through the depth (measured 1.3e-5).
      EXPECT_LT(relative_l2(got.t.back(), base.t.back()), f32 ? 1e-4 : 1e-10) << what << " inference logits";
    }
  }
}
