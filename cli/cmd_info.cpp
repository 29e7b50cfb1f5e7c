// `effnet info --model b3 [--image-size N] [--classes K]`: the layer table of a variant.
// `effnet info FILE.h5`: what a weights file or checkpoint holds (docs/weights-format.md).
#include <cstdio>
#include <iostream>
#include <set>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "efficientnet/efficientnet.h"
#include "weights/checkpoint.h"
#include "weights/model_io.h"

namespace effnet::cli {

namespace {

std::string join(const std::vector<double>& v) {
  std::string out;
  char buf[32];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, "%.6g", x);
    out += (out.empty() ? "" : " ") + std::string(buf);
  }
  return out;
}

// The attributes, then the tensors counted against the model the file describes (which names are
// parameters and which are buffers), then the training state of a checkpoint.
int print_weights_file(const std::string& path) {
  h5::File f = h5::File::open(path);
  WeightsMeta m = read_meta(f);
  const EfficientNetConfig& c = m.config;
  std::printf("file           %s\n", path.c_str());
  std::printf("format         effnet-weights version %lld\n", (long long)f.attr_int("format_version"));
  std::printf("variant        %s (width %g, depth %g, resolution %lld)\n", c.name.c_str(), c.width, c.depth,
              (long long)c.resolution);
  std::printf("classes        %lld\n", (long long)c.num_classes);
  std::printf("activation     %s, squeeze-excitation %s\n", nn::activation_name(c.activation),
              c.squeeze_excitation ? "on" : "off");
  std::printf("padding        %s\n", nn::padding_mode_name(c.padding));
  std::printf("batch norm     eps %g, momentum %g\n", c.bn.eps, c.bn.momentum);
  std::printf("regularisation dropout %g, drop-connect %g\n", c.dropout, c.drop_connect);
  std::printf("source         %s\n", m.source.empty() ? "(not recorded)" : m.source.c_str());
  std::printf("normalisation  mean %s, std %s (of [0, 1] RGB)\n", join(m.input_mean).c_str(),
              join(m.input_std).c_str());
  // The converter says where the values came from (a Keras file's own layers, a default, options).
  if (f.has_attr("input_normalisation"))
    std::printf("               from %s\n", f.attr_string("input_normalisation").c_str());

  Generator gen(0);
  EfficientNet net(c, gen);
  std::set<std::string> params;
  for (const auto& [name, t] : net.named_parameters()) params.insert(name);
  int64_t n_tensors = 0, n_param_tensors = 0, n_params = 0, n_buffer_values = 0;
  for (const std::string& name : f.datasets("/")) {
    ++n_tensors;
    const int64_t n = shape_numel(f.shape(name));
    if (params.count(name)) {
      ++n_param_tensors;
      n_params += n;
    } else {
      n_buffer_values += n;
    }
  }
  std::printf("tensors        %lld (%lld parameter tensors, %lld parameters; %lld buffer values)\n",
              (long long)n_tensors, (long long)n_param_tensors, (long long)n_params, (long long)n_buffer_values);

  if (!f.has("/training")) {
    std::printf("checkpoint     no (weights only)\n");
    return 0;
  }
  TrainingState s = read_training_state(path);
  std::printf("checkpoint     stage %s, epoch %lld, step %lld\n", s.stage.empty() ? "-" : s.stage.c_str(),
              (long long)s.epoch, (long long)s.step);
  std::printf("best metric    %g (epoch %lld, %lld epochs without improvement)\n", s.best_metric,
              (long long)s.best_epoch, (long long)s.epochs_without_improvement);
  if (f.has("/optimizer"))
    std::printf("optimizer      %s, lr %g, %lld steps, %zu state tensors\n", f.attr_string("type", "/optimizer").c_str(),
                f.attr_double("lr", "/optimizer"), (long long)f.attr_int("step_count", "/optimizer"),
                f.datasets("/optimizer").size());
  else
    std::printf("optimizer      none stored\n");
  std::printf("rng            seed %llu, offset %llu\n", (unsigned long long)s.rng_seed,
              (unsigned long long)s.rng_offset);
  if (!s.config.empty()) std::printf("config\n%s%s", s.config.c_str(), s.config.back() == '\n' ? "" : "\n");
  return 0;
}

}  // namespace

int cmd_info(int argc, char** argv, const Hooks&) {
  Args args("info",
            "Print an EfficientNet's layer table: each stage's output shape, parameters and multiply-adds.\n"
            "With a FILE.h5 argument: print what a weights file or checkpoint holds instead.");
  args.positional("file", "an effnet weights file or checkpoint (.h5) to describe", false)
      .option("model", "b0", "variant: b0..b7, lite0..lite4")
      .option("image-size", "0", "input resolution (0: the variant's native resolution)", kImageSizeRange)
      .option("classes", "1000", "number of classes", Range::between(1, kMaxClasses));
  if (!args.parse(argc, argv, 2)) return 0;
  if (args.given("file")) return print_weights_file(args.str("file"));
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

}  // namespace effnet::cli
