// `effnet prepare fashion-mnist --out DIR`: turns a dataset's source files into the folder layout
// the training apps read (see framework/data/fashion_mnist.h for the layout).
#include <chrono>
#include <cstdio>
#include <exception>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "framework/core/error.h"
#include "framework/data/fashion_mnist.h"
#include "framework/dist/process_group.h"

namespace effnet::cli {

int cmd_prepare(int argc, char** argv, const Hooks&) {
  Args args("prepare", "Write a dataset as PNG folders: labeled/<class>/, unlabeled/, test/ and label lists.");
  args.positional("dataset", "the dataset to prepare: fashion-mnist")
      .option("out", "", "output folder (required)")
      .option("labels-per-class", "500", "labeled images per class (the rest of the training set is unlabeled)",
              Range::at_least(1))
      .option("seed", "0", "numpy RandomState seed of the labeled split (0 matches the PyTorch reference)",
              kSplitSeedRange)
      .option("source", "/usr/share/datasets/fashion-mnist", "folder holding the four *-ubyte.gz files")
      .option("threads", "0", "PNG-writing threads (0: all cores)", kWorkersRange);
  if (!args.parse(argc, argv, 2)) return 0;
  EFFNET_CHECK(args.str("dataset") == "fashion-mnist", "effnet prepare: unknown dataset '", args.str("dataset"),
               "' (known: fashion-mnist)");
  EFFNET_CHECK(!args.str("out").empty(), "effnet prepare: --out DIR is required");
  const int64_t seed = args.integer("seed");

  data::FashionMnistOptions opts;
  opts.source = args.str("source");
  opts.out = args.str("out");
  opts.labels_per_class = args.integer("labels-per-class");
  opts.seed = uint32_t(seed);
  opts.threads = int(args.integer("threads"));
  // Under mpirun, one writer: rank 0 prepares, the others wait for it (a shared folder).
  if (!dist::is_main()) {
    dist::barrier();
    return 0;
  }
  struct Release {
    ~Release() {
      if (dist::world_size() > 1 && !std::uncaught_exceptions()) dist::barrier();
    }
  } release;
  const auto t0 = std::chrono::steady_clock::now();
  data::PrepareSummary s = data::prepare_fashion_mnist(opts);
  if (s.already_complete) {
    std::printf("%s is already prepared with these settings; nothing to do\n", opts.out.c_str());
    return 0;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("fashion-mnist -> %s: %lld labeled, %lld unlabeled, %lld test images (%.1f s)\n", opts.out.c_str(),
              (long long)s.labeled, (long long)s.unlabeled, (long long)s.test, secs);
  return 0;
}

}  // namespace effnet::cli
