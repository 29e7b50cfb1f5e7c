// Tensor basics: creation, views sharing memory, device moves, the seeded RNG, error messages.
#include <cfloat>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "framework/core/core_kernels.h"
#include "framework/framework.h"
#include "tests/testing/compare.h"

using namespace effnet;

TEST(Tensor, FactoriesFillValues) {
  Tensor z = zeros({2, 3}), o = ones({2, 3}, DType::Float64), f = full({4}, 2.5);
  EXPECT_EQ(z.numel(), 6);
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  for (double v : o.to_vector<double>()) EXPECT_EQ(v, 1.0);
  for (float v : f.to_vector<float>()) EXPECT_EQ(v, 2.5f);
  std::vector<int64_t> r = arange(5, DType::Int64).to_vector<int64_t>();
  EXPECT_EQ(r, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).to_vector<float>()[4], 5.0f);
}

// The engine's in-place arithmetic (threads, and an AVX2 + FMA copy) against the shared element
// formulas: add_ may fuse y + alpha·x into one rounding, so it may differ from the twice-rounded
// formula by the product's rounding; mul_ is one multiplication and matches exactly.
TEST(Tensor, InPlaceArithmeticMatchesTheSharedFormulas) {
  Generator gen(31);
  const Tensor x = uniform({100003}, -3, 3, gen), y0 = uniform({100003}, -3, 3, gen);
  const std::vector<float> xv = x.to_vector<float>(), yv = y0.to_vector<float>();
  for (double alpha : {1.0, -0.3, 2.5}) {
    const std::vector<float> got = y0.clone().add_(x, alpha).to_vector<float>();
    for (size_t i = 0; i < xv.size(); ++i) {
      const float want = axpy_element(yv[i], float(alpha), xv[i]);
      ASSERT_LE(std::abs(got[i] - want), FLT_EPSILON * (std::abs(float(alpha) * xv[i]) + std::abs(want)))
          << "add_ alpha = " << alpha << " at " << i;
    }
  }
  const std::vector<float> scaled = y0.clone().mul_(0.7).to_vector<float>();
  for (size_t i = 0; i < yv.size(); ++i) ASSERT_EQ(scaled[i], scale_element(yv[i], 0.7f)) << i;
  const std::vector<int64_t> idx = arange(70001, DType::Int64).to_vector<int64_t>();
  const std::vector<float> idx_f = arange(70001).to_vector<float>();
  for (size_t i = 0; i < idx.size(); ++i) {
    ASSERT_EQ(idx[i], int64_t(i));
    ASSERT_EQ(idx_f[i], convert_element<float>(int64_t(i)));
  }
}

TEST(Tensor, FromVectorChecksCount) {
  EXPECT_THROW(from_vector<float>({1, 2, 3}, {2, 2}), Error);
}

TEST(Tensor, ReshapeAndSliceAreViews) {
  Tensor t = arange(24).reshape({2, 3, 4});
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  Tensor v = t.reshape({6, -1});
  EXPECT_EQ(v.shape(), (Shape{6, 4}));
  Tensor s = v.slice(2, 4);
  EXPECT_EQ(s.shape(), (Shape{2, 4}));
  EXPECT_EQ(s.to_vector<float>()[0], 8.0f);
  s.fill_(-1.0);  // writes through to t
  EXPECT_EQ(t.to_vector<float>()[8], -1.0f);
  EXPECT_EQ(t.to_vector<float>()[15], -1.0f);
  EXPECT_EQ(t.to_vector<float>()[16], 16.0f);
  EXPECT_EQ(t.version(), s.version());  // one counter per storage
  EXPECT_THROW(t.reshape({5, -1}), Error);
  EXPECT_THROW(t.slice(1, 3), Error);
}

TEST(Tensor, Rank5AndInt64) {
  Tensor t = zeros({1, 2, 3, 4, 5});
  EXPECT_EQ(t.dim(), 5);
  EXPECT_EQ(t.size(-1), 5);
  Tensor labels = from_vector<int64_t>({3, 1, 2}, {3});
  EXPECT_EQ(labels.dtype(), DType::Int64);
  EXPECT_THROW(labels.item(), Error) << "item() of a 3-element tensor must throw";
}

TEST(Tensor, DtypeConversion) {
  Tensor a = from_vector<float>({1.5f, -2.0f}, {2});
  Tensor d = a.to(DType::Float64);
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ(d.to_vector<double>()[0], 1.5);
  EXPECT_EQ(a.to(DType::Int64).to_vector<int64_t>()[1], -2);
}

TEST(Tensor, TypedAccessChecksDtype) {
  Tensor a = zeros({2});
  EXPECT_THROW(a.data<double>(), Error);
}

TEST(Rng, SameSeedSameNumbers) {
  Generator g1(42), g2(42), g3(43);
  Tensor a = uniform({1000}, 0, 1, g1), b = uniform({1000}, 0, 1, g2), c = uniform({1000}, 0, 1, g3);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  // Consecutive draws continue the stream.
  Tensor a2 = uniform({1000}, 0, 1, g1);
  EXPECT_NE(a.to_vector<float>(), a2.to_vector<float>());
  EXPECT_EQ(g1.offset(), 2000u);
}

TEST(Rng, DistributionsHaveRightMoments) {
  Generator g(5);
  std::vector<float> u = uniform({200000}, -2, 4, g).to_vector<float>();
  std::vector<float> n = normal({200000}, 1.0, 3.0, g).to_vector<float>();
  std::vector<int64_t> r = randint(3, 7, {200000}, g).to_vector<int64_t>();
  double su = 0, sn = 0, sn2 = 0, sr = 0;
  for (float v : u) { su += v; EXPECT_TRUE(v >= -2 && v < 4); }
  for (float v : n) { sn += v; sn2 += double(v) * v; }
  for (int64_t v : r) { sr += double(v); ASSERT_TRUE(v >= 3 && v < 7); }
  double N = 200000;
  EXPECT_NEAR(su / N, 1.0, 0.02);
  EXPECT_NEAR(sn / N, 1.0, 0.03);
  EXPECT_NEAR(std::sqrt(sn2 / N - (sn / N) * (sn / N)), 3.0, 0.03);
  EXPECT_NEAR(sr / N, 4.5, 0.02);
}

TEST(Rng, CudaMatchesCpu) {
  EFFNET_REQUIRE_CUDA();
  Generator g1(9), g2(9);
  Tensor a = uniform({4097}, -1, 1, g1), b = uniform({4097}, -1, 1, g2, DType::Float32, Device::cuda());
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  Tensor n1 = normal({4097}, 0, 1, g1), n2 = normal({4097}, 0, 1, g2, DType::Float32, Device::cuda());
  EXPECT_TRUE(effnet::testing::all_close(n2, n1, 1e-6, 1e-6, "normal"));
  Tensor r1 = randint(0, 10, {4097}, g1), r2 = randint(0, 10, {4097}, g2, Device::cuda());
  EXPECT_EQ(r1.to_vector<int64_t>(), r2.to_vector<int64_t>());
  // A width that is not a power of two: low + width * u rounds differently when the GPU fuses it
  // into one multiply-add, so this catches a contracted device formula.
  Tensor w1 = uniform({4097}, -2, 4, g1), w2 = uniform({4097}, -2, 4, g2, DType::Float32, Device::cuda());
  EXPECT_EQ(w1.to_vector<float>(), w2.to_vector<float>());
  Tensor d1 = uniform({4097}, -0.3, 0.7, g1, DType::Float64);
  Tensor d2 = uniform({4097}, -0.3, 0.7, g2, DType::Float64, Device::cuda());
  EXPECT_EQ(d1.to_vector<double>(), d2.to_vector<double>());
}

TEST(Tensor, CudaRoundTripAndAllocatorCaches) {
  EFFNET_REQUIRE_CUDA();
  Tensor a = normal({64, 3, 8, 8}, 0, 1);
  Tensor g = a.to(Device::cuda());
  EXPECT_TRUE(g.is_cuda());
  EXPECT_EQ(g.to(Device::cpu()).to_vector<float>(), a.to_vector<float>());
  // After one round of allocations of these sizes, the same sizes come from the cache.
  for (int i = 0; i < 2; ++i) { Tensor x = zeros({1000, 1000}, DType::Float32, Device::cuda()); }
  uint64_t mallocs = cuda::memory_stats().device_mallocs;
  for (int i = 0; i < 10; ++i) { Tensor x = zeros({1000, 1000}, DType::Float32, Device::cuda()); }
  EXPECT_EQ(cuda::memory_stats().device_mallocs, mallocs);
  EXPECT_GT(cuda::memory_stats().peak_in_use, 0u);
}

TEST(Tensor, HostOutOfMemoryIsAClearError) {
  // A cached large block first, so that the retry after releasing the cache runs too.
  { Tensor big = Tensor::empty({int64_t(1) << 20}); }
  try {
    Tensor huge = Tensor::empty({int64_t(1) << 45});  // 128 TiB
    FAIL() << "allocation of 128 TiB succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of host memory"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("134217728 MiB"), std::string::npos) << e.what();
  }
  Tensor after = Tensor::empty({int64_t(1) << 20});  // the allocator still works
  EXPECT_EQ(after.numel(), int64_t(1) << 20);
}

TEST(Tensor, CudaOutOfMemoryIsAClearError) {
  EFFNET_REQUIRE_CUDA();
  try {
    Tensor huge = Tensor::empty({int64_t(1) << 45}, DType::Float32, Device::cuda());
    FAIL() << "allocation of 128 TiB succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
  }
}

TEST(Tensor, CudaAllocatorKeepsReusedBlocksWhole) {
  EFFNET_REQUIRE_CUDA();
  // A 4096-byte request may take a cached 4608-byte block (within 1.25x). The block must be
  // accounted and returned at its own size: otherwise in_use drifts and the pool forgets 512 B.
  cuda::synchronize();
  cuda::empty_cache();
  const MemoryStats s0 = cuda::memory_stats();
  { Tensor a = Tensor::empty({1152}, DType::Float32, Device::cuda()); }  // 4608 B, now cached
  const MemoryStats s1 = cuda::memory_stats();
  EXPECT_EQ(s1.device_mallocs, s0.device_mallocs + 1);
  EXPECT_EQ(s1.reserved, s0.reserved + 4608);
  EXPECT_EQ(s1.in_use, s0.in_use);
  {
    Tensor b = Tensor::empty({1024}, DType::Float32, Device::cuda());  // 4096 B from the 4608 B block
    EXPECT_EQ(cuda::memory_stats().in_use, s0.in_use + 4608);
    EXPECT_EQ(cuda::memory_stats().device_mallocs, s1.device_mallocs);
  }
  EXPECT_EQ(cuda::memory_stats().in_use, s0.in_use);
  { Tensor c = Tensor::empty({1152}, DType::Float32, Device::cuda()); }  // the whole block again
  const MemoryStats s2 = cuda::memory_stats();
  EXPECT_EQ(s2.device_mallocs, s1.device_mallocs);
  EXPECT_EQ(s2.reserved, s1.reserved);
  EXPECT_EQ(s2.in_use, s0.in_use);
  cuda::empty_cache();
  EXPECT_EQ(cuda::memory_stats().reserved, s0.reserved);
}

namespace {
// Zero-element tensors through every op family: a kernel launched with an empty grid is a launch
// error on the GPU, so each launcher must return early; reductions over nothing give zeros.
void check_zero_sized(Device d) {
  SCOPED_TRACE(d.str());
  Generator g(3);
  Tensor e = zeros({0, 5}, DType::Float32, d);
  EXPECT_EQ(add(e, e).shape(), (Shape{0, 5}));
  EXPECT_EQ(mul(e, ones({5}, DType::Float32, d)).shape(), (Shape{0, 5}));  // broadcast kernel
  EXPECT_EQ(affine(e, 2.0, 1.0).numel(), 0);
  EXPECT_EQ(relu(e).numel(), 0);
  EXPECT_EQ(softmax(e, 1).numel(), 0);
  EXPECT_EQ(log_softmax(e, 0).numel(), 0);
  EXPECT_EQ(max(e, 1).values.numel(), 0);
  EXPECT_EQ(transpose(e).shape(), (Shape{5, 0}));
  EXPECT_EQ(sum(e, {0}).to_vector<float>(), std::vector<float>(5, 0.0f));  // nothing to add up
  EXPECT_EQ(sum(e).item(), 0.0);
  EXPECT_EQ(dropout(e, 0.5, true, g).numel(), 0);
  EXPECT_EQ(e.clone().to(Device::cpu()).numel(), 0);
  EXPECT_EQ(e.to(DType::Float64).numel(), 0);
  EXPECT_EQ(uniform({0}, 0, 1, g, DType::Float32, d).numel(), 0);
  EXPECT_EQ(normal({0}, 0, 1, g, DType::Float32, d).numel(), 0);
  EXPECT_EQ(randint(0, 3, {0}, g, d).numel(), 0);
  EXPECT_EQ(arange(0, DType::Float32, d).numel(), 0);
  // K == 0: the product is all zeros, never the uninitialised output memory.
  Tensor p = matmul(zeros({2, 0}, DType::Float32, d), zeros({0, 3}, DType::Float32, d));
  EXPECT_EQ(p.to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(matmul(zeros({0, 4}, DType::Float32, d), zeros({4, 3}, DType::Float32, d)).shape(), (Shape{0, 3}));
  Tensor x = zeros({0, 4}, DType::Float32, d).set_requires_grad(true);
  sum(relu(x)).backward();
  EXPECT_EQ(x.grad().numel(), 0);
}
}  // namespace

TEST(Tensor, ZeroSizedTensorsThroughEveryFamily) { check_zero_sized(Device::cpu()); }

TEST(Tensor, CudaZeroSizedTensorsThroughEveryFamily) {
  EFFNET_REQUIRE_CUDA();
  check_zero_sized(Device::cuda());
  cuda::synchronize();  // a failed launch would surface here at the latest
}

TEST(Tensor, CudaGridStrideCoversMoreThanOneGrid) {
  EFFNET_REQUIRE_CUDA();
  // cuda::grid_for caps grids at 65535 * 8 blocks of 256 threads (134,215,680 threads), so
  // elements past that are reached only by the grid-stride loops. 4096 rows of 32800 floats are
  // 134,348,800 elements (about 0.5 GiB per tensor).
  const int64_t rows = 4096, cols = 32800;
  {
    Tensor x = full({rows * cols}, 1.0, DType::Float32, Device::cuda());
    Tensor y = relu(add(x, x));  // same-shape binary and unary kernels
    x = Tensor();
    y.mul_(0.5);  // affine in place
    std::vector<float> row_sums = sum(y.reshape({rows, cols}), {1}).to_vector<float>();
    for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(row_sums[size_t(r)], float(cols)) << "row " << r;
  }
  cuda::empty_cache();
}

// The host cache keeps a freed working set larger than its 1 GiB floor, as a loop over big inputs
// needs (framework/core/allocator.cpp: up to twice the peak in use): 5 blocks of 300 MiB in use at
// once are all kept when freed, and asked for again, come from the cache. With a fixed 1 GiB limit
// only 3 would be kept.
// The blocks are never touched, so they cost address space, not memory. (ctest runs each test in
// its own process, so the cache starts empty.)
TEST(HostAllocator, CachesAWorkingSetLargerThanOneGiB) {
  constexpr size_t kBlock = size_t(300) << 20;
  const size_t before = cpu_cached_bytes();
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(cpu_allocate(kBlock));
  for (void* p : blocks) cpu_free(p);
  EXPECT_GE(cpu_cached_bytes(), before + 5 * kBlock);
  for (void*& p : blocks) p = cpu_allocate(kBlock);
  EXPECT_EQ(cpu_cached_bytes(), before) << "every block came back from the cache";
  for (void* p : blocks) cpu_free(p);
}

TEST(Context, DeterministicAlgorithmsByDefaultAndSwitchable) {
  // On by default (exact resumption relies on it); --nondeterministic turns it off.
  EXPECT_TRUE(cuda::deterministic_algorithms());
  cuda::set_deterministic_algorithms(false);
  EXPECT_FALSE(cuda::deterministic_algorithms());
  cuda::set_deterministic_algorithms(true);
  EXPECT_TRUE(cuda::deterministic_algorithms());
}
