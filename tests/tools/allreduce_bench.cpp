// Benchmark of the host all-reduce (docs/distributed.md, "scale on paper"): under
// `mpirun -np N allreduce_bench [MiB...]` times dist::all_reduce of float32 buffers of each size
// (default: 16 MiB, EfficientNet-B0's 10-class gradients) and prints, on rank 0, the median
// time and the bus bandwidth 2 (N-1)/N * bytes / time, the quantity the ring cost model uses.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "framework/core/creation.h"
#include "framework/dist/process_group.h"

int main(int argc, char** argv) {
  using namespace effnet;
  const int world = dist::init();
  std::vector<double> sizes_mib;
  for (int i = 1; i < argc; ++i) sizes_mib.push_back(std::atof(argv[i]));
  if (sizes_mib.empty()) sizes_mib = {0.004, 1, 16, 64};
  for (double mib : sizes_mib) {
    const int64_t n = std::max<int64_t>(1, int64_t(mib * 1024 * 1024 / 4));
    Tensor t = ones({n});
    std::vector<double> ms;
    for (int rep = 0; rep < 23; ++rep) {
      dist::barrier();
      const auto t0 = std::chrono::steady_clock::now();
      dist::all_reduce(t);
      const double dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (rep >= 3) ms.push_back(dt);  // 3 warm-up rounds
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    const double bus = 2.0 * (world - 1) / world * double(n) * 4 / (median * 1e-3) / 1e9;
    if (dist::is_main())
      std::printf("all_reduce %d ranks, %9.3f MiB: median %8.3f ms, bus bandwidth %6.2f GB/s\n", world, mib, median,
                  bus);
  }
  dist::finalize();
  return 0;
}
