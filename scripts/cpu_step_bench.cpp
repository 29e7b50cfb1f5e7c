// Developer tool for docs/cpu-performance.md (not part of the build): times EfficientNet training
// steps and inference forwards on the CPU like `effnet bench`, and also reports the CPU time the
// process spent per step, which a machine shared with other jobs disturbs much less than wall time.
// Build against a CPU build's library:
//   g++ -O2 -std=c++17 -fopenmp -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread -I/usr/include/hdf5/serial \
//       scripts/cpu_step_bench.cpp build-cpu/libeffnet.a -o /tmp/cpu_step_bench \
//       -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lopenblas -lhdf5 -lz -lpthread
// Run: /tmp/cpu_step_bench MODEL BATCH train|eval [iters]  -> one JSON line (medians).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "efficientnet/efficientnet.h"
#include "framework/ops/loss.h"
#include "framework/optim/sgd.h"

using namespace effnet;

static double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL BATCH train|eval [iters]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  const int64_t batch = std::atoll(argv[2]);
  const bool train = std::string(argv[3]) == "train";
  const int iters = argc > 4 ? std::atoi(argv[4]) : 5;
  Generator gen(0);
  auto net = make_efficientnet(model, 10, gen);
  Tensor x = normal({batch, 3, 32, 32}, 0, 1, gen, DType::Float32, Device::cpu());
  Tensor y = randint(0, 10, {batch}, gen, Device::cpu());
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
  for (int i = 0; i < 2; ++i) step();
  std::vector<double> wall, cpu;
  for (int i = 0; i < iters; ++i) {
    auto t = std::chrono::steady_clock::now();
    double c = cpu_seconds();
    step();
    cpu.push_back(cpu_seconds() - c);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  const double w = wall[wall.size() / 2], c = cpu[cpu.size() / 2];
  // The minimum is the least disturbed step: the best estimate of an idle machine's speed.
  std::printf("{\"model\": \"%s\", \"batch\": %lld, \"train\": %s, \"wall_ms\": %.1f, \"img_per_s\": %.1f, "
              "\"cpu_ms\": %.1f, \"img_per_cpu_s\": %.1f, \"min_wall_ms\": %.1f, \"min_cpu_ms\": %.1f}\n",
              model.c_str(), (long long)batch, train ? "true" : "false", w * 1e3, double(batch) / w, c * 1e3,
              double(batch) / c, wall.front() * 1e3, cpu.front() * 1e3);
  return 0;
}
