// `effnet bench`: times training steps (forward, cross-entropy, backward, SGD momentum step) or
// inference forwards of an EfficientNet on random data, in the protocol of the PyTorch anchors
// (the anchors' torch_gpu_bench.py on CUDA: 5 warm-up + 20 timed steps, mean;
// torch_cpu_bench.py on the CPU: 2 warm-up + 5 timed steps, median), and prints one JSON line.
// Besides wall time it reports the process CPU time per step (all threads), which a machine shared
// with other jobs disturbs much less than wall time (docs/cpu-performance.md), and the ops and
// CUDA launches of one more, untimed step (framework/core/op_count.h).
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "efficientnet/efficientnet.h"
#include "framework/autograd/node.h"
#include "framework/core/allocator.h"
#include "framework/core/context.h"
#include "framework/core/cpu_parallel.h"
#include "framework/core/op_count.h"
#include "framework/ops/loss.h"
#include "framework/optim/sgd.h"

namespace effnet::cli {
namespace {

// CPU time of the whole process so far, all threads, in seconds.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int cmd_bench(int argc, char** argv, const Hooks&) {
  Args args("bench",
            "Time EfficientNet training steps or inference on random data; prints one JSON line "
            "(wall and process CPU time per step).");
  args.option("model", "b0", "variant: b0..b7, lite0..lite4")
      .option("image-size", "32", "input resolution", Range::between(1, kMaxResolution))
      .option("batch", "256", "batch size", kBatchRange)
      .option("classes", "10", "number of classes", Range::between(1, kMaxClasses))
      .option("device", "cuda", "cuda or cpu")
      .option("warmup", "-1", "untimed steps first (-1: 5 on cuda, 2 on cpu)", Range::at_least(-1))
      .option("iters", "-1", "timed steps (-1: 20 on cuda, 5 on cpu)", Range::at_least(-1))
      .flag("train", "time training steps (default: inference)")
      .flag("ops", "also list the ops of one step by backend function, on stderr")
      .flag("nondeterministic", "GPU: allow cuDNN algorithms that are not bit-reproducible");
  if (!args.parse(argc, argv, 2)) return 0;
  Device dev = Device::parse(args.str("device"));
  cuda::set_deterministic_algorithms(!args.on("nondeterministic"));
  EFFNET_CHECK(!dev.is_cuda() || cuda::available(), "bench: --device cuda but no GPU is visible");
  const bool train = args.on("train"), on_gpu = dev.is_cuda();
  const int64_t batch = args.integer("batch"), size = args.integer("image-size"), classes = args.integer("classes");
  int64_t warm = args.integer("warmup"), iters = args.integer("iters");
  if (warm < 0) warm = on_gpu ? 5 : 2;
  if (iters < 0) iters = on_gpu ? 20 : 5;
  EFFNET_CHECK(iters > 0, "bench: --iters must be positive (or -1 for the default)");

  cuda::reset_peak_memory();  // like the anchor: the peak covers model, data and every step
  Generator gen(0);
  auto net = make_efficientnet(args.str("model"), classes, gen);
  net->to(dev);
  Tensor x = normal({batch, 3, size, size}, 0, 1, gen, DType::Float32, dev);
  Tensor y = randint(0, classes, {batch}, gen, dev);
  SGD opt(net->trainable_parameters(), 0.005, 0.9);

  auto step = [&] {
    if (train) {
      net->train();
      opt.zero_grad();
      Tensor loss = cross_entropy(net->forward(x), y);
      loss.backward();
      opt.step();
    } else {
      net->eval();
      NoGradGuard no_grad;
      net->forward(x);
    }
  };
  for (int64_t i = 0; i < warm; ++i) step();
  cuda::synchronize();
  // The caching allocator's promise: no cudaMalloc once the first steps have run.
  const uint64_t mallocs_before = cuda::memory_stats().device_mallocs;
  std::vector<double> times, cpu_times;
  auto t_all = std::chrono::steady_clock::now();
  const double cpu_all = process_cpu_seconds();
  for (int64_t i = 0; i < iters; ++i) {
    auto t = std::chrono::steady_clock::now();
    const double c = process_cpu_seconds();
    step();
    if (!on_gpu) {
      cpu_times.push_back(process_cpu_seconds() - c);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
    }
  }
  cuda::synchronize();
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();
  double dt = total / double(iters);
  double cpu_dt = (process_cpu_seconds() - cpu_all) / double(iters);
  if (!on_gpu) {  // the CPU anchor reports the median step
    dt = median(times);
    cpu_dt = median(cpu_times);
  }
  const uint64_t timed_mallocs = cuda::memory_stats().device_mallocs - mallocs_before;
  // One more step, untimed, with the op counter on (op_count.h).
  OpCounts counts;
  {
    OpCounter counter;
    step();
    counts = counter.counts();
  }
  cuda::synchronize();
  if (args.on("ops"))
    for (const auto& [name, n] : counts.by_name) std::fprintf(stderr, "%8llu  %s\n", (unsigned long long)n, name.c_str());
  // GPU: the caching allocator's peak of bytes in use. CPU: the process's peak resident set.
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  double peak_mib = on_gpu ? double(cuda::memory_stats().peak_in_use) / (1 << 20) : double(usage.ru_maxrss) / 1024.0;
  std::printf("{\"framework\": \"effnet\", \"model\": \"%s\", \"img\": %lld, \"batch\": %lld, \"train\": %s, "
              "\"device\": \"%s\", \"ms_per_iter\": %.2f, \"img_per_s\": %.1f, \"peak_mem_MiB\": %.1f, \"cuda_mallocs_timed\": %llu, "
              "\"cpu_ms_per_iter\": %.2f, \"cpu_isa\": \"%s\", \"ops_per_iter\": %llu, \"cuda_launches_per_iter\": %llu}\n",
              args.str("model").c_str(), (long long)size, (long long)batch, train ? "true" : "false",
              dev.str().c_str(), dt * 1e3, double(batch) / dt, peak_mib, (unsigned long long)timed_mallocs,
              cpu_dt * 1e3, cpu::cpu_isa_name(cpu::cpu_isa()), (unsigned long long)counts.ops,
              (unsigned long long)counts.cuda_launches);
  return 0;
}

}  // namespace effnet::cli
