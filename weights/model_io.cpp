// HDF5 weights: metadata, strict loading, atomic saving (see model_io.h).
#include "weights/model_io.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "framework/autograd/node.h"

namespace effnet {

namespace {
std::string block_args_string(const EfficientNetConfig& c) {
  std::ostringstream os;
  for (size_t i = 0; i < c.blocks.size(); ++i) {
    const BlockArgs& b = c.blocks[i];
    os << (i ? ";" : "") << "r" << b.repeats << "_k" << b.kernel << "_s" << b.stride << b.stride << "_e"
       << b.expand_ratio << "_i" << b.in_channels << "_o" << b.out_channels;
    if (b.se_ratio > 0) os << "_se" << b.se_ratio;
  }
  return os.str();
}

// Parses a string attribute; a failure names the file and the attribute.
template <class F>
auto parse_attr(const h5::File& f, const char* name, F&& parse) {
  const std::string value = f.attr_string(name);
  try {
    return parse(value);
  } catch (const Error& e) {
    EFFNET_THROW(f.path(), ": attribute ", name, " '", value, "': ", e.message());
  }
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Whether a (host) tensor holds a value below zero.
bool has_negative(const Tensor& t) {
  const Tensor d = t.to(DType::Float64);
  const double* p = d.data<double>();
  for (int64_t i = 0; i < d.numel(); ++i)
    if (p[i] < 0) return true;
  return false;
}

// A setting read from the file's attributes must lie in its range where it is read, so that the
// message names the file, the attribute, the value and what is allowed (rather than a layer
// failing later, or a NaN, without naming the file).
template <class T>
void check_attr(const h5::File& f, const std::string& name, T value, bool ok, const std::string& allowed) {
  EFFNET_CHECK(ok, f.path(), ": attribute ", name, " = ", value, " is out of range: it must be ", allowed);
}

}  // namespace

void write_meta(h5::File& f, const WeightsMeta& m) {
  const EfficientNetConfig& c = m.config;
  f.set_attr("format", std::string("effnet-weights"));
  f.set_attr("format_version", kWeightsFormatVersion);
  f.set_attr("variant", c.name);
  f.set_attr("width", c.width);
  f.set_attr("depth", c.depth);
  f.set_attr("resolution", c.resolution);
  f.set_attr("num_classes", c.num_classes);
  f.set_attr("activation", std::string(nn::activation_name(c.activation)));
  f.set_attr("squeeze_excitation", int64_t(c.squeeze_excitation));
  f.set_attr("fix_stem_head", int64_t(c.fix_stem_head));
  f.set_attr("padding", std::string(nn::padding_mode_name(c.padding)));
  f.set_attr("bn_eps", c.bn.eps);
  f.set_attr("bn_momentum", c.bn.momentum);
  f.set_attr("dropout", c.dropout);
  f.set_attr("drop_connect", c.drop_connect);
  f.set_attr("block_args", block_args_string(c));
  f.set_attr("input_mean", m.input_mean);
  f.set_attr("input_std", m.input_std);
  f.set_attr("source", m.source);
}

WeightsMeta read_meta(const h5::File& f) {
  EFFNET_CHECK(f.has_attr("format") && f.attr_string("format") == "effnet-weights", f.path(),
               ": not an effnet weights file (root attribute format is ",
               f.has_attr("format") ? "'" + f.attr_string("format") + "'" : std::string("missing"),
               ", expected 'effnet-weights'); convert other checkpoints with weights/convert.py");
  int64_t version = f.attr_int("format_version");
  EFFNET_CHECK(version == kWeightsFormatVersion, f.path(), ": weights format_version ", version,
               " is not supported (this build reads version ", kWeightsFormatVersion, ")");
  WeightsMeta m;
  const std::string variant = f.attr_string("variant");
  const int64_t classes = f.attr_int("num_classes");
  check_attr(f, "num_classes", classes, classes >= 1 && classes <= kMaxClasses,
             "in [1, " + std::to_string(kMaxClasses) + "]");
  m.config = parse_attr(f, "variant", [&](const std::string& v) { return config_for(v, classes); });
  EfficientNetConfig& c = m.config;
  // The variant fixes the architecture; the file must agree with it.
  const double width = f.attr_double("width"), depth = f.attr_double("depth");
  EFFNET_CHECK(std::abs(width - c.width) < 1e-9 && std::abs(depth - c.depth) < 1e-9, f.path(),
               ": attributes width ", width, ", depth ", depth, " do not match variant ", variant, " (width ", c.width,
               ", depth ", c.depth, ")");
  const int64_t se = f.attr_int("squeeze_excitation"), fixed = f.attr_int("fix_stem_head");
  EFFNET_CHECK(se == int64_t(c.squeeze_excitation) && fixed == int64_t(c.fix_stem_head), f.path(),
               ": attributes squeeze_excitation ", se, ", fix_stem_head ", fixed, " do not match variant ", variant,
               " (", int(c.squeeze_excitation), ", ", int(c.fix_stem_head), ")");
  const std::string blocks = f.attr_string("block_args");
  EFFNET_CHECK(blocks == block_args_string(c), f.path(), ": attribute block_args '", blocks,
               "' does not match variant ", variant, " ('", block_args_string(c), "')");
  // Settings that travel with the weights.
  c.activation = parse_attr(f, "activation", nn::parse_activation);
  c.padding = parse_attr(f, "padding", nn::parse_padding_mode);
  c.bn.eps = f.attr_double("bn_eps");
  c.bn.momentum = f.attr_double("bn_momentum");
  check_attr(f, "bn_eps", c.bn.eps, c.bn.eps > 0 && c.bn.eps < 1, "in (0, 1)");
  check_attr(f, "bn_momentum", c.bn.momentum, c.bn.momentum >= 0 && c.bn.momentum <= 1, "in [0, 1] (PyTorch convention)");
  c.dropout = f.attr_double("dropout");
  c.drop_connect = f.attr_double("drop_connect");
  check_attr(f, "dropout", c.dropout, c.dropout >= 0 && c.dropout < 1, "in [0, 1)");
  check_attr(f, "drop_connect", c.drop_connect, c.drop_connect >= 0 && c.drop_connect < 1, "in [0, 1)");
  c.resolution = f.attr_int("resolution");
  check_attr(f, "resolution", c.resolution, c.resolution >= 1 && c.resolution <= kMaxResolution,
             "in [1, " + std::to_string(kMaxResolution) + "] pixels");
  m.input_mean = f.attr_doubles("input_mean");
  m.input_std = f.attr_doubles("input_std");
  EFFNET_CHECK(m.input_mean.size() == 3 && m.input_std.size() == 3, f.path(),
               ": attributes input_mean and input_std need 3 values each (one per RGB channel), got ",
               m.input_mean.size(), " and ", m.input_std.size());
  for (size_t ch = 0; ch < 3; ++ch) {
    const std::string index = "[" + std::to_string(ch) + "]";
    check_attr(f, "input_mean" + index, m.input_mean[ch], std::isfinite(m.input_mean[ch]), "finite");
    // The input is divided by it: 0 turns every image into Inf/NaN.
    check_attr(f, "input_std" + index, m.input_std[ch], std::isfinite(m.input_std[ch]) && m.input_std[ch] > 0,
               "finite and > 0");
  }
  m.source = f.has_attr("source") ? f.attr_string("source") : "";
  return m;
}

WeightsMeta read_meta(const std::string& path) { return read_meta(h5::File::open(path)); }

void write_tensors(h5::File& f, const nn::Module& model, const std::string& group) {
  for (const auto& [name, t] : model.state()) f.write(group + "/" + name, t.detach().to(DType::Float32));
}

StagedTensors stage_tensors(const h5::File& f, const nn::Module& model, const LoadOptions& opts,
                            const std::string& group) {
  const std::string root = group.empty() ? "/" : group;
  std::vector<std::string> in_file = f.datasets(root);
  std::set<std::string> unused(in_file.begin(), in_file.end());
  std::ostringstream problems;
  int n_problems = 0;
  auto problem = [&](const auto&... parts) {
    problems << "\n  ";
    (problems << ... << parts);
    ++n_problems;
  };
  StagedTensors staged;
  for (const auto& [name, t] : model.state()) {
    if (opts.backbone_only && name.rfind("classifier.", 0) == 0) {
      unused.erase(name);
      continue;
    }
    if (!unused.count(name)) {
      if (opts.strict) problem("missing dataset '", name, "' (model shape ", shape_str(t.shape()), ")");
      continue;
    }
    unused.erase(name);
    const std::string path = group + "/" + name;
    Shape s = f.shape(path);
    if (s != t.shape()) {
      problem("dataset '", name, "': file shape ", shape_str(s), ", model shape ", shape_str(t.shape()));
      continue;
    }
    // float32 is what the format stores; float64 (h5py's default for Python floats) is converted.
    std::string type = f.element_type(path);
    if (type != "float32" && type != "float64") {
      problem("dataset '", name, "': element type ", type, ", expected float32");
      continue;
    }
    Tensor value = f.read(path, is_floating(t.dtype()) ? t.dtype() : DType::Float32);  // checked finite
    // A variance below zero makes batch norm's 1/sqrt(var + eps) NaN for every image.
    if (ends_with(name, "running_var") && has_negative(value)) {
      problem("dataset '", name, "' holds a negative variance");
      continue;
    }
    staged.pairs.emplace_back(t, std::move(value));
  }
  if (opts.strict)
    for (const std::string& name : unused)
      problem("unexpected dataset '", name, "' (shape ", shape_str(f.shape(group + "/" + name)), ")");
  EFFNET_CHECK(n_problems == 0, f.path(), ": weights do not fit the model (", n_problems,
               n_problems == 1 ? " problem):" : " problems):", problems.str());
  return staged;
}

void StagedTensors::commit() {
  NoGradGuard no_grad;
  for (auto& [dst, src] : pairs) dst.copy_(src);
}

void read_tensors(const h5::File& f, nn::Module& model, const LoadOptions& opts, const std::string& group) {
  stage_tensors(f, model, opts, group).commit();
}

void save_weights(const nn::Module& model, const std::string& path, const WeightsMeta& meta) {
  h5::write_atomically(path, [&](h5::File& f) {
    write_meta(f, meta);
    write_tensors(f, model);
  });
}

void load_weights(nn::Module& model, const std::string& path, const LoadOptions& opts) {
  h5::File f = h5::File::open(path);
  read_meta(f);  // format and version checks
  read_tensors(f, model, opts);
}

std::shared_ptr<EfficientNet> load_efficientnet(const std::string& path, int64_t num_classes, WeightsMeta* meta_out) {
  h5::File f = h5::File::open(path);
  WeightsMeta meta = read_meta(f);
  const bool new_head = num_classes > 0 && num_classes != meta.config.num_classes;
  auto net = std::make_shared<EfficientNet>(meta.config);
  LoadOptions opts;
  opts.backbone_only = new_head;
  read_tensors(f, *net, opts);
  if (new_head) {
    net->reset_classifier(num_classes);
    meta.config.num_classes = num_classes;
  }
  if (meta_out) *meta_out = meta;
  return net;
}

}  // namespace effnet
