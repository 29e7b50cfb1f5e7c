// `effnet info --model b3 [--image-size N] [--classes K]`: the layer table of a variant.
#include <cstdio>
#include <iostream>

#include "apps/args.h"
#include "apps/commands.h"
#include "efficientnet/efficientnet.h"

namespace effnet::app {

int cmd_info(int argc, char** argv) {
  Args args("info", "Print an EfficientNet's layer table: each stage's output shape, parameters and multiply-adds.");
  args.option("model", "b0", "variant: b0..b7, lite0..lite4")
      .option("image-size", "0", "input resolution (0: the variant's native resolution)")
      .option("classes", "1000", "number of classes");
  if (!args.parse(argc, argv, 2)) return 0;
  EfficientNetConfig cfg = config_for(args.str("model"), args.integer("classes"));
  int64_t size = args.integer("image-size") > 0 ? args.integer("image-size") : cfg.resolution;
  Generator gen(0);
  EfficientNet net(cfg, gen);
  std::vector<StageInfo> rows = describe(net, size);
  std::printf("EfficientNet-%s  input 3x%lldx%lld  width %.1f depth %.1f  %s%s\n", cfg.name.c_str(), (long long)size,
              (long long)size, cfg.width, cfg.depth, nn::activation_name(cfg.activation),
              cfg.squeeze_excitation ? " + SE" : "");
  std::printf("%-12s %-18s %14s %16s\n", "stage", "output", "params", "mult-adds");
  int64_t total_p = 0, total_m = 0;
  for (const StageInfo& r : rows) {
    std::string shape;
    for (size_t i = 0; i < r.output.size(); ++i) shape += (i ? "x" : "") + std::to_string(r.output[i]);
    std::printf("%-12s %-18s %14lld %16lld\n", r.name.c_str(), shape.c_str(), (long long)r.params, (long long)r.macs);
    total_p += r.params;
    total_m += r.macs;
  }
  std::printf("%-12s %-18s %14lld %16lld   (%.3f G mult-adds)\n", "total", "", (long long)total_p, (long long)total_m,
              double(total_m) / 1e9);
  return 0;
}

}  // namespace effnet::app
