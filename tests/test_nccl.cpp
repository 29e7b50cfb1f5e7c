// The NCCL communicator at world size 1 (one GPU, no MPI needed): its collectives leave CUDA
// tensors as they are, and EfficientNet-B0 trained through the gradient reducer over NCCL ends with
// the weights of the plain CUDA path (within 1e-6 of their norm, not bit for bit: until cuDNN's
// algorithms are chosen deterministically, issue 11, two plain CUDA runs may differ in rounding). The multi-GPU NCCL path needs a machine with several
// GPUs and mpirun (docs/distributed.md); these tests skip without a GPU or without NCCL.
#include <gtest/gtest.h>

#include <cstdio>

#include "efficientnet/efficientnet.h"
#include "framework/dist/backends.h"
#include "framework/dist/gradient_reducer.h"
#include "framework/framework.h"
#include "framework/optim/factory.h"
#include "tests/testing/compare.h"

using namespace effnet;

namespace {

#ifdef EFFNET_WITH_NCCL
std::unique_ptr<dist::Communicator> nccl_world_of_one() {
  static std::unique_ptr<dist::Communicator> host = dist::make_single_process();
  return dist::detail::make_nccl(*host);
}
#define EFFNET_REQUIRE_NCCL() EFFNET_REQUIRE_CUDA()
#else
#define EFFNET_REQUIRE_NCCL() GTEST_SKIP() << "this build has no NCCL (a CUDA build with NCCL found)"
#endif

}  // namespace

TEST(CudaNccl, WorldOfOneCollectivesKeepTheTensor) {
  EFFNET_REQUIRE_NCCL();
#ifdef EFFNET_WITH_NCCL
  auto nccl = nccl_world_of_one();
  EXPECT_STREQ(nccl->backend(), "nccl");
  EXPECT_EQ(nccl->size(), 1);
  Tensor t = arange(1000).to(Device::cuda(0));
  auto a = nccl->all_reduce_async(t, dist::ReduceOp::Sum);
  a->wait();
  nccl->all_reduce(t, dist::ReduceOp::Mean);
  nccl->broadcast(t, 0);
  EXPECT_EQ(t.to(Device::cpu()).to_vector<float>(), arange(1000).to_vector<float>());
  EXPECT_THROW(nccl->all_reduce(arange(3), dist::ReduceOp::Sum), Error);  // a CPU tensor
#endif
}

TEST(CudaNccl, B0TrainedThroughTheReducerEqualsThePlainCudaPath) {
  EFFNET_REQUIRE_NCCL();
#ifdef EFFNET_WITH_NCCL
  auto nccl = nccl_world_of_one();
  auto train = [&](bool reduced) {
    EfficientNetConfig cfg = config_for("b0", 10);
    cfg.dropout = 0.0;
    cfg.drop_connect = 0.0;
    Generator gen(3);
    EfficientNet net(cfg, gen);
    net.to(Device::cuda(0));
    // A small rate: training from scratch amplifies rounding (tests/mpi/test_data_parallel.cpp).
    auto opt = make_optimizer({"sgd", 2e-4, 0.9, 1e-4}, net.trainable_parameters());
    std::unique_ptr<dist::GradientReducer> reducer;
    if (reduced) reducer = std::make_unique<dist::GradientReducer>(net.trainable_parameters(), size_t(1) << 20, nccl.get());
    net.train();
    for (int step = 0; step < 3; ++step) {
      Generator data(100 + uint64_t(step));
      Tensor x = normal({16, 3, 32, 32}, 0.0, 1.0, data).to(Device::cuda(0));
      Tensor y = randint(0, 10, {16}, data).to(Device::cuda(0));
      opt->zero_grad();
      cross_entropy(net.forward(x), y).backward();
      if (reducer) reducer->finish();
      opt->step();
    }
    std::vector<Tensor> weights;
    for (auto& [name, t] : net.named_parameters()) weights.push_back(t.to(Device::cpu()));
    return weights;
  };
  // Over all parameters as one vector (testing/compare.h).
  const double differ = effnet::testing::relative_l2(train(true), train(false));
  std::printf("NCCL world of one vs plain CUDA: weights differ by %.3g of their norm\n", differ);
  EXPECT_LE(differ, 1e-6);
#endif
}
