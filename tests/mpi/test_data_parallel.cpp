// Data-parallel training against its single-process equivalent, run by ctest under
// `mpirun -np 2` (tests/CMakeLists.txt): every rank runs every test, in the same order, and
// computes the single-process reference itself (it needs no communication), then compares.
//   - the collectives (all-reduce sum/mean, broadcast, all-gather of unequal parts, shards);
//   - sync BN: 2 ranks x batch 32 give the weights of 1 process x batch 64 after 5 steps (SGD,
//     Adam), relative error <= 1e-5 in float32;
//   - per-rank BN: 2 ranks equal one process that runs each half batch through the network
//     separately and averages the two gradients;
//   - the differentiable all-reduce passes a float64 gradient check through sync BN.
// Dropout and drop-connect are off: with them the ranks draw other masks than one process would.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "efficientnet/efficientnet.h"
#include "framework/dist/all_reduce_op.h"
#include "framework/dist/gradient_reducer.h"
#include "framework/dist/process_group.h"
#include "framework/framework.h"
#include "framework/ops/sync_batch_norm.h"
#include "framework/optim/factory.h"
#include "layers/batch_norm.h"
#include "tests/testing/compare.h"
#include "tests/testing/gradient_checker.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

constexpr int64_t kGlobalBatch = 64, kImage = 32, kClasses = 10;constexpr int64_t kSteps = 5;

std::shared_ptr<EfficientNet> small_net(DType dtype) {
  EfficientNetConfig cfg = config_for("b0", kClasses);
  cfg.dropout = 0.0;
  cfg.drop_connect = 0.0;
  Generator gen(7);
  auto net = std::make_shared<EfficientNet>(cfg, gen);
  net->to(dtype);
  return net;
}

// The global batch of step s, the same on every rank.
std::pair<Tensor, Tensor> global_batch(int64_t step, DType dtype) {
  Generator gen(1000 + uint64_t(step));
  Tensor x = normal({kGlobalBatch, 3, kImage, kImage}, 0.0, 1.0, gen).to(dtype);
  Tensor y = randint(0, kClasses, {kGlobalBatch}, gen);
  return {x, y};
}

// A model's parameters or buffers, as one list for relative_l2 (tests/testing/compare.h). Taken
// as one vector, not per tensor: some biases' gradients are analytically zero (a batch norm
// follows), so those tensors hold nothing but rounding.
std::vector<Tensor> values(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : named) out.push_back(t);
  return out;
}

enum class Bn { Sync, PerRank };

// 5 steps of one process on the whole batch (Sync), or on both halves separately with the two
// gradients averaged (PerRank): what the data-parallel run must equal.
void train_reference(EfficientNet& net, const OptimizerSpec& spec, Bn bn) {
  auto opt = make_optimizer(spec, net.trainable_parameters());
  net.train();
  for (int64_t s = 0; s < kSteps; ++s) {
    auto [x, y] = global_batch(s, net.named_parameters()[0].second.dtype());
    opt->zero_grad();
    if (bn == Bn::Sync) {
      cross_entropy(net.forward(x), y).backward();
    } else {
      const int64_t half = kGlobalBatch / 2;
      for (int64_t h = 0; h < 2; ++h)
        affine(cross_entropy(net.forward(x.slice(h * half, (h + 1) * half)), y.slice(h * half, (h + 1) * half)),
               0.5, 0.0)
            .backward();
    }
    opt->step();
  }
}

void train_data_parallel(EfficientNet& net, const OptimizerSpec& spec, Bn bn) {
  const int world = dist::world_size(), rank = dist::rank();
  const int64_t per_rank = kGlobalBatch / world;
  for (auto& [name, t] : net.state()) dist::broadcast(t, 0);
  if (bn == Bn::Sync) nn::set_sync_batch_norm(net, dist::all_reduce_sum);
  auto opt = make_optimizer(spec, net.trainable_parameters());
  // Small buckets, so that several all-reduces are in flight during backward.
  dist::GradientReducer reducer(net.trainable_parameters(), size_t(1) << 20);
  EXPECT_GT(reducer.bucket_count(), 4u);
  net.train();
  for (int64_t s = 0; s < kSteps; ++s) {
    auto [x, y] = global_batch(s, net.named_parameters()[0].second.dtype());
    opt->zero_grad();
    cross_entropy(net.forward(x.slice(rank * per_rank, (rank + 1) * per_rank)),
                  y.slice(rank * per_rank, (rank + 1) * per_rank))
        .backward();
    reducer.finish();
    opt->step();
  }
  nn::set_sync_batch_norm(net, nullptr);
}

// Float32 within the bound (1e-5 of the weights); float64 to rounding, which shows that
// the data-parallel step computes the same function, not just a close one.
void expect_equivalent(const OptimizerSpec& spec, Bn bn, DType dtype) {
  ASSERT_EQ(kGlobalBatch % dist::world_size(), 0);
  auto reference = small_net(dtype), parallel = small_net(dtype), start = small_net(dtype);
  train_reference(*reference, spec, bn);
  train_data_parallel(*parallel, spec, bn);
  const std::vector<Tensor> want = values(reference->named_parameters());
  const double differ = relative_l2(values(parallel->named_parameters()), want);
  const double moved = relative_l2(values(start->named_parameters()), want);
  std::printf("[rank %d] %s %s, %s BN: weights differ by %.3g of their norm (training moved them %.3g)\n",
              dist::rank(), dtype_name(dtype), spec.name.c_str(), bn == Bn::Sync ? "sync" : "per-rank", differ, moved);
  const bool f64 = dtype == DType::Float64;
  EXPECT_LE(differ, f64 ? 1e-9 : 1e-5);
  EXPECT_GT(moved, 1e-4);  // the weights moved: an equivalence of untrained models would prove nothing
  if (bn == Bn::Sync)      // the running statistics are the global batch's too
    EXPECT_LE(relative_l2(values(parallel->named_buffers()), values(reference->named_buffers())), f64 ? 1e-9 : 1e-5)
        << "running statistics";
}

TEST(Collectives, AllReduceBroadcastGather) {
  const int world = dist::world_size(), rank = dist::rank();
  ASSERT_TRUE(dist::distributed());
  Tensor t = full({3}, double(rank + 1));
  dist::all_reduce(t);
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(3, float(world * (world + 1) / 2)));
  Tensor m = full({2}, double(rank + 1), DType::Float64);
  dist::all_reduce(m, dist::ReduceOp::Mean);
  EXPECT_DOUBLE_EQ(m.to_vector<double>()[1], (world + 1) / 2.0);
  Tensor i = full({1}, double(10 * rank), DType::Int64);
  dist::all_reduce(i);
  EXPECT_EQ(i.to_vector<int64_t>()[0], 10 * world * (world - 1) / 2);
  Tensor b = full({4}, double(rank == 0 ? 42 : -1));
  dist::broadcast(b, 0);
  EXPECT_EQ(b.to_vector<float>(), std::vector<float>(4, 42.f));
  // Unequal parts: rank r sends r + 1 copies of r.
  std::vector<int64_t> mine(size_t(rank + 1), rank), expected;
  for (int r = 0; r < world; ++r) expected.insert(expected.end(), size_t(r + 1), r);
  EXPECT_EQ(dist::all_gather(mine), expected);
  // Shards cover [0, n) in rank order.
  for (int64_t n : {0, 1, 7, 64}) {
    int64_t next = 0;
    for (int r = 0; r < world; ++r) {
      const dist::Range s = dist::shard_of(n, r, world);
      EXPECT_EQ(s.begin, next);
      next = s.end;
    }
    EXPECT_EQ(next, n);
  }
}

TEST(Collectives, AsyncAllReduceCompletesInAnyWaitOrder) {
  const int world = dist::world_size(), rank = dist::rank();
  Tensor a = full({1000}, double(rank)), b = full({10}, 1.0);
  auto wa = dist::all_reduce_async(a), wb = dist::all_reduce_async(b);
  dist::host().progress();
  wb->wait();
  wa->wait();
  EXPECT_EQ(b.to_vector<float>()[9], float(world));
  EXPECT_EQ(a.to_vector<float>()[999], float(world * (world - 1) / 2));
}

// Training EfficientNet-B0 from scratch amplifies rounding: the float64 runs below differ by
// ~1e-16 after one step and by ~5e-11 after five at lr 0.01, so two float32 runs (rounding 6e-8)
// that sum in different orders drift apart chaotically at that rate. The float32 runs use rates
// at which five steps amplify rounding less than the bound: small, but the weights still move
// (checked); the float64 runs check the same equivalence at a full-size rate. Adam needs the
// smaller rate: it scales the pure-rounding gradients of the biases that a batch norm follows
// (analytically zero) up to steps of +-lr in a direction that rounding picks.
const OptimizerSpec kSgdSmall{"sgd", 2e-4, 0.9, 1e-4}, kAdamSmall{"adam", 1e-5, 0.9, 0.0};
const OptimizerSpec kSgd{"sgd", 0.01, 0.9, 1e-4}, kAdam{"adam", 1e-3, 0.9, 0.0};

TEST(DataParallel, SyncBatchNormSgdEqualsOneProcessWholeBatch) {
  expect_equivalent(kSgdSmall, Bn::Sync, DType::Float32);
}
TEST(DataParallel, SyncBatchNormAdamEqualsOneProcessWholeBatch) {
  expect_equivalent(kAdamSmall, Bn::Sync, DType::Float32);
}
TEST(DataParallel, PerRankBatchNormEqualsAveragedHalfBatches) { expect_equivalent(kSgd, Bn::PerRank, DType::Float32); }
TEST(DataParallel, Float64SyncBatchNormSgdEqualsOneProcessWholeBatch) {
  expect_equivalent(kSgd, Bn::Sync, DType::Float64);
}
TEST(DataParallel, Float64SyncBatchNormAdamEqualsOneProcessWholeBatch) {
  expect_equivalent(kAdam, Bn::Sync, DType::Float64);
}

// The gradient of sync BN through both all-reduces, float64, central differences. Rank r's loss
// is <proj_r, y_r>; the job's loss F is their sum, and backward on every rank gives dF/dx_r.
// Numerically, each rank's x is perturbed in turn while the others hold still.
TEST(DataParallel, SyncBatchNormGradientCheck) {
  const int rank = dist::rank();
  Generator gen(5 + uint64_t(rank));
  Tensor x = normal({2, 3, 2, 2}, 0.5, 2.0, gen, DType::Float64).set_requires_grad();
  Tensor w = normal({3}, 1.0, 0.3, gen, DType::Float64).set_requires_grad();
  Tensor b = normal({3}, 0.0, 0.3, gen, DType::Float64).set_requires_grad();
  Tensor proj = normal({2, 3, 2, 2}, 0.0, 1.0, gen, DType::Float64);
  Tensor rm = zeros({3}, DType::Float64), rv = ones({3}, DType::Float64);
  auto local_loss = [&](const Tensor& xi) {
    return sum(mul(sync_batch_norm2d(xi, w, b, rm, rv, true, 0.1, 1e-5, dist::all_reduce_sum), proj));
  };
  auto f = [&](const Tensor& xi) {  // F, on every rank
    Tensor l = local_loss(xi).reshape({1});
    dist::all_reduce(l);
    return l;
  };
  local_loss(x).backward();
  const std::vector<double> analytic = x.grad().to_vector<double>();
  // Central differences, one element of one rank at a time (every rank evaluates f each time).
  const int world = dist::world_size();
  const double h = 1e-6;
  double worst = 0;
  for (int r = 0; r < world; ++r) {
    for (int64_t k = 0; k < x.numel(); ++k) {
      NoGradGuard no_grad;
      auto eval = [&](double delta) {
        Tensor xp = x.detach().clone();
        if (r == rank) xp.data<double>()[k] += delta;
        return f(xp).item();
      };
      const double numeric = (eval(h) - eval(-h)) / (2 * h);
      if (r == rank) worst = std::max(worst, std::abs(numeric - analytic[size_t(k)]) / (1e-6 + std::abs(numeric)));
    }
  }
  EXPECT_LE(worst, 1e-6);
}

// The all-reduce as identity (one process): sync BN is batch_norm2d, forward and backward.
TEST(DataParallel, SyncBatchNormWithIdentityEqualsBatchNorm) {
  Generator gen(11);
  Tensor x = normal({4, 5, 3, 3}, 1.0, 2.0, gen, DType::Float64).set_requires_grad();
  Tensor w = normal({5}, 1.0, 0.3, gen, DType::Float64).set_requires_grad();
  Tensor b = normal({5}, 0.0, 0.3, gen, DType::Float64).set_requires_grad();
  Tensor rm1 = zeros({5}, DType::Float64), rv1 = ones({5}, DType::Float64), rm2 = rm1.clone(), rv2 = rv1.clone();
  Tensor y1 = batch_norm2d(x, w, b, rm1, rv1, true, 0.1, 1e-3);
  Tensor gx = x.detach().clone(), gw = w.detach().clone(), gb = b.detach().clone();
  gx.set_requires_grad();
  gw.set_requires_grad();
  gb.set_requires_grad();
  Tensor y2 = sync_batch_norm2d(gx, gw, gb, rm2, rv2, true, 0.1, 1e-3, [](const Tensor& t) { return t.clone(); });
  EXPECT_TRUE(all_close(y2, y1, 1e-10, 1e-12, "output"));
  EXPECT_TRUE(all_close(rm2, rm1, 1e-12, 1e-14, "running mean"));
  EXPECT_TRUE(all_close(rv2, rv1, 1e-12, 1e-14, "running var"));
  Tensor proj = normal({4, 5, 3, 3}, 0.0, 1.0, gen, DType::Float64);
  sum(mul(y1, proj)).backward();
  sum(mul(y2, proj)).backward();
  EXPECT_TRUE(all_close(gx.grad(), x.grad(), 1e-9, 1e-11, "x gradient"));
  EXPECT_TRUE(all_close(gw.grad(), w.grad(), 1e-9, 1e-11, "weight gradient"));
  EXPECT_TRUE(all_close(gb.grad(), b.grad(), 1e-9, 1e-11, "bias gradient"));
}

}  // namespace

// MPI around GoogleTest: every rank runs the tests; the job fails when any rank's test failed.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  dist::init();
  int failed = RUN_ALL_TESTS() != 0;
  Tensor any = full({1}, double(failed), DType::Int64);
  dist::all_reduce(any);
  failed = any.to_vector<int64_t>()[0] != 0;
  dist::finalize();
  return failed;
}
