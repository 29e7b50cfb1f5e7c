// EfficientNet family: configuration rules, exact parameter counts, shapes, multiply-adds,
// gradient checks of an MBConv block and of a whole tiny network, one vs two CPU threads, and
// CPU-vs-CUDA on B0, and the ops one B0 training step dispatches.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "efficientnet/efficientnet.h"
#include "framework/core/context.h"
#include "framework/core/op_count.h"
#include "framework/optim/sgd.h"
#include "framework/ops/loss.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

TEST(EfficientNetConfig, RoundFiltersAndRepeats) {
  EXPECT_EQ(round_filters(32, 1.0), 32);
  EXPECT_EQ(round_filters(32, 1.2), 40);    // B3 stem
  EXPECT_EQ(round_filters(1280, 1.4), 1792);  // B4 head
  EXPECT_EQ(round_filters(40, 1.1), 48);    // B2 stage 3 (44 -> 48)
  EXPECT_EQ(round_filters(80, 1.1), 88);
  EXPECT_EQ(round_filters(16, 1.8), 32);    // B6: 28.8 -> 32
  EXPECT_EQ(round_repeats(3, 1.4), 5);
  EXPECT_EQ(round_repeats(1, 3.1), 4);
  EXPECT_THROW(config_for("b9"), Error);
  EXPECT_EQ(config_for("efficientnet-b3").name, "b3");
}

TEST(EfficientNetConfig, StageWidthsAndDepthsMatchReferenceTable) {
  // Reference sheet, section 2: B5 stage outs and repeats.
  std::vector<ScaledBlock> b = scaled_blocks(config_for("b5"));
  EXPECT_EQ(b.size(), 39u);
  EXPECT_EQ(b.back().out_channels, 512);
  EXPECT_EQ(head_channels(config_for("b5")), 2048);
  EXPECT_EQ(scaled_blocks(config_for("b7")).size(), 55u);
  EXPECT_EQ(stem_channels(config_for("b7")), 64);
  // B0: the first stage-2 block expands 16 -> 96 and its SE reduces to max(1, 16 * 0.25) = 4.
  std::vector<ScaledBlock> b0 = scaled_blocks(config_for("b0"));
  EXPECT_EQ(b0[1].in_channels, 16);
  EXPECT_EQ(b0[1].se_channels, 4);
  EXPECT_DOUBLE_EQ(b0[15].drop_connect, 0.2 * 15 / 16);
}

TEST(EfficientNet, ParameterCountsAreExact) {
  const std::pair<const char*, int64_t> expected[] = {
      {"b0", 5288548},  {"b1", 7794184},  {"b2", 9109994},  {"b3", 12233232},
      {"b4", 19341616}, {"b5", 30389784}, {"b6", 43040704}, {"b7", 66347960},
  };
  for (auto [name, count] : expected) {
    Generator gen(0);
    EfficientNet net(config_for(name), gen);
    EXPECT_EQ(net.parameter_count(), count) << name;
  }
}

TEST(EfficientNet, ParameterNamesFollowTheModuleTree) {
  auto net = make_efficientnet("b0");
  NamedTensors p = net->named_parameters();
  EXPECT_EQ(p.front().first, "stem.conv.weight");
  EXPECT_EQ(p.back().first, "classifier.bias");
  bool found = false;
  for (auto& [n, t] : p) found |= n == "blocks.1.se.reduce.weight" && t.shape() == Shape{4, 96, 1, 1};
  EXPECT_TRUE(found);
  EXPECT_EQ(net->named_buffers().front().first, "stem.bn.running_mean");
}

TEST(EfficientNet, MultiplyAddsAtNativeResolution) {
  for (auto [name, gmacs] : {std::pair<const char*, double>{"b0", 0.386}, {"b3", 1.827}}) {
    auto net = make_efficientnet(name);
    int64_t total = 0;
    for (const StageInfo& r : describe(*net, net->config().resolution)) total += r.macs;
    EXPECT_NEAR(double(total) / 1e9, gmacs, gmacs * 0.01) << name;
  }
}

TEST(EfficientNet, OutputShapes) {
  for (const std::string& name : variant_names()) {
    Generator gen(1);
    auto net = make_efficientnet(name, 10, gen);
    net->eval();
    NoGradGuard no_grad;
    Tensor y = net->forward(normal({2, 3, 32, 32}, 0, 1, gen));
    EXPECT_EQ(y.shape(), (Shape{2, 10})) << name;
    std::vector<StageInfo> rows = describe(*net, net->config().resolution);
    EXPECT_EQ(rows.back().output, (Shape{10})) << name;
  }
  auto b0 = make_efficientnet("b0");
  b0->eval();
  NoGradGuard no_grad;
  Tensor f = b0->head->forward(b0->blocks->forward(b0->stem->forward(normal({1, 3, 224, 224}, 0, 1))));
  EXPECT_EQ(f.shape(), (Shape{1, 1280}));
  Tensor h = b0->blocks->forward(b0->stem->forward(normal({1, 3, 224, 224}, 0, 1)));
  EXPECT_EQ(h.shape(), (Shape{1, 320, 7, 7}));
}

TEST(EfficientNet, BadInputIsAClearError) {
  auto net = make_efficientnet("b0", 10);
  EXPECT_THROW(net->forward(zeros({2, 1, 32, 32})), Error);
  EXPECT_THROW(make_efficientnet("b0", 0), Error);
}

TEST(EfficientNet, ResetClassifierAndFreeze) {
  auto net = make_efficientnet("b0", 1000);
  net->reset_classifier(10);
  EXPECT_EQ(net->classifier->weight.shape(), (Shape{10, 1280}));
  EXPECT_EQ(net->named_parameters().back().second.shape(), (Shape{10}));
  net->freeze_backbone();
  std::vector<Tensor> trainable = net->trainable_parameters();
  EXPECT_EQ(trainable.size(), 2u);
  net->freeze_backbone(false);
  EXPECT_EQ(net->trainable_parameters().size(), net->parameters().size());
}

namespace {
// A small network for gradient checks: narrow, one block per stage, no randomness.
EfficientNetConfig tiny_config() {
  EfficientNetConfig c = config_for("b0", 3);
  c.width = 0.25;
  c.depth = 0.1;
  c.dropout = 0.0;
  c.drop_connect = 0.0;
  c.blocks.resize(4);
  return c;
}
}  // namespace

TEST(MBConv, GradientCheckWithSqueezeExcitationAndSkip) {
  Generator gen(3);
  ScaledBlock b{2, 8, 8, 3, 1, 4, 2, 0.0};
  MBConv block(MBConvOptions{b, nn::Activation::Swish, nn::PaddingMode::Symmetric, {1e-3, 0.01}}, gen);
  ASSERT_TRUE(block.has_skip());
  ASSERT_TRUE(block.se != nullptr);
  block.to(DType::Float64);
  block.train();
  std::vector<Tensor> inputs{grad_input({3, 8, 5, 5}, -1, 1, 4)};
  for (Tensor& p : block.parameters()) inputs.push_back(p);
  GradCheckOptions opts;
  opts.rtol = 1e-4;
  opts.atol = 1e-6;
  opts.max_elements = 40;
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return block.forward(in[0]); }, inputs, opts));
}

TEST(EfficientNet, TinyNetworkGradientCheckEveryParameter) {
  Generator gen(5);
  EfficientNet net(tiny_config(), gen);
  net.to(DType::Float64);
  net.train();
  Tensor x = grad_input({4, 3, 16, 16}, -1, 1, 6);
  x.set_requires_grad(false);
  Tensor labels = from_vector<int64_t>({0, 2, 1, 2}, {4});
  std::vector<Tensor> inputs = net.parameters();
  GradCheckOptions opts;
  opts.rtol = 1e-4;
  opts.atol = 1e-6;
  opts.max_elements = 4;
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>&) { return cross_entropy(net.forward(x), labels); }, inputs, opts));
}

// The CPU kernels split their work, and their floating-point sums, over OpenMP threads: one and
// two threads must agree up to rounding, or a kernel has a race or a wrong split. (Training
// amplifies the rounding differences, so whole runs do differ between thread counts.)
TEST(EfficientNet, B0TrainingStepOps) {
  // What one training step (forward, loss, backward, SGD step) asks of the backend, the number the
  // few-launches work is measured by (docs/architecture.md "Counting ops"): 1,084 before it. No
  // gradient is copied into .grad, the optimizer is one call for all 213 parameters, every batch
  // norm carries its swish (33 of the 49: stem, head, expansions, depthwise), and each of the 16
  // squeeze-excitation blocks is one op each way.
  Generator g(31), data(32);
  auto net = make_efficientnet("b0", 10, g);
  net->train();
  SGD opt(net->trainable_parameters(), 0.01, 0.9);
  Tensor x = normal({2, 3, 32, 32}, 0, 1, data);
  Tensor y = randint(0, 10, {2}, data);
  OpCounts counts;
  for (int step = 0; step < 2; ++step) {  // the second step has momentum buffers: the steady state
    OpCounter counter;
    opt.zero_grad();
    cross_entropy(net->forward(x), y).backward();
    opt.step();
    counts = counter.counts();
  }
  auto count = [&](const char* name) { return counts.by_name.count(name) ? counts.by_name.at(name) : 0; };
  EXPECT_EQ(count("copy"), 0u);
  EXPECT_EQ(count("sgd_update"), 1u);
  EXPECT_EQ(count("batch_norm_train_forward"), 49u);
  EXPECT_EQ(count("unary"), 0u);
  EXPECT_EQ(count("se_forward"), 16u);
  EXPECT_EQ(count("se_backward"), 16u);
  EXPECT_LE(counts.ops, 326u) << "measured 326 when this test was written";
}

TEST(EfficientNet, CpuOneAndTwoThreadsAgree) {
  struct Run {
    Tensor logits;
    NamedTensors params;
  };
  auto run = [](int threads) {
    omp_set_num_threads(threads);
    Generator g(21), data(22);
    Run r;
    auto net = make_efficientnet("b0", 10, g);
    net->train();
    Tensor x = normal({8, 3, 32, 32}, 0, 1, data);
    Tensor y = randint(0, 10, {8}, data);
    manual_seed(5);  // the same dropout and drop-connect masks
    Tensor logits = net->forward(x);
    cross_entropy(logits, y).backward();
    r.logits = logits.detach();
    r.params = net->named_parameters();
    return r;
  };
  const int saved = omp_get_max_threads();
  const Run one = run(1), two = run(2);
  omp_set_num_threads(saved);
  EXPECT_LT(relative_l2(two.logits, one.logits), 1e-4) << "logits";  // measured 1.3e-5
  ASSERT_EQ(one.params.size(), two.params.size());
  for (size_t i = 0; i < one.params.size(); ++i) {
    const Tensor& a = one.params[i].second.grad();
    const Tensor& b = two.params[i].second.grad();
    const Tensor d = sub(a, b);
    const double norm = std::sqrt(sum(mul(a, a)).item()), dnorm = std::sqrt(sum(mul(d, d)).item());
    // Train-mode batch norm over 8 values per channel in the last stages amplifies the rounding:
    // measured up to 1.1e-4 relative (blocks.0.se.reduce). A race or a wrong split gives errors of
    // order one. Gradients that are analytically zero (project_bn biases, |grad| ~1e-6) are pure
    // rounding noise: they are compared against a floor instead of their own size.
    EXPECT_LE(dnorm, 1e-3 * std::max(norm, 0.1)) << one.params[i].first << ": |grad| " << norm;
  }
}

TEST(EfficientNet, CudaB0ForwardBackwardMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  for (bool training : {true, false}) {
    Generator g1(11), g2(11);
    auto cpu_net = make_efficientnet("b0", 10, g1);
    auto gpu_net = make_efficientnet("b0", 10, g2);
    gpu_net->to(Device::cuda());
    cpu_net->train(training);
    gpu_net->train(training);
    Generator data(12);
    Tensor x = normal({8, 3, 32, 32}, 0, 1, data);
    Tensor y = randint(0, 10, {8}, data);
    // Dropout and drop-connect draw from the default generator: same state, same masks.
    manual_seed(77);
    Tensor lc = cross_entropy(cpu_net->forward(x), y);
    manual_seed(77);
    Tensor lg = cross_entropy(gpu_net->forward(x.to(Device::cuda())), y.to(Device::cuda()));
    EXPECT_NEAR(lg.item(), lc.item(), 1e-3 * std::abs(lc.item()) + 1e-4) << "training=" << training;
    lc.backward();
    lg.backward();
    auto pc = cpu_net->named_parameters(), pg = gpu_net->named_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
      // As in CpuOneAndTwoThreadsAgree: gradients that are analytically zero (the project_bn
      // biases in training mode, |grad| ~1e-6 of rounding) are compared against a floor, not
      // against their own size, which would make the bare relative error of noise against noise.
      const Tensor a = pc[i].second.grad(), b = pg[i].second.grad().to(Device::cpu());
      const Tensor d = sub(a, b);
      const double norm = std::sqrt(sum(mul(a, a)).item()), dnorm = std::sqrt(sum(mul(d, d)).item());
      EXPECT_LE(dnorm, 2e-3 * std::max(norm, 0.1)) << pc[i].first << " training=" << training << ": |grad| " << norm;
    }
  }
}

TEST(EfficientNet, CudaTrainingStepsAreBitReproducible) {
  // With deterministic algorithms (the default) three training steps from one seed give the same
  // bits twice: what resuming a GPU run exactly relies on.
  EFFNET_REQUIRE_CUDA();
  ASSERT_TRUE(cuda::deterministic_algorithms());
  auto run = [] {
    Generator g(51), data(52);
    auto net = make_efficientnet("b0", 10, g);
    net->to(Device::cuda());
    net->train();
    SGD opt(net->trainable_parameters(), 0.05, 0.9);
    Tensor x = normal({16, 3, 32, 32}, 0, 1, data).to(Device::cuda());
    Tensor y = randint(0, 10, {16}, data).to(Device::cuda());
    manual_seed(53);
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      cross_entropy(net->forward(x), y).backward();
      opt.step();
    }
    std::vector<std::vector<float>> weights;
    for (const auto& [name, p] : net->named_parameters()) weights.push_back(p.to_vector<float>());
    return weights;
  };
  const auto a = run(), b = run();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "parameter " << i;
}
