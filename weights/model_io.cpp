// HDF5 weights: metadata, strict loading, atomic saving (see model_io.h).
#include "weights/model_io.h"

#include <map>
#include <set>
#include <sstream>

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
               ": not an effnet weights file (root attribute format != 'effnet-weights'); "
               "convert other checkpoints with weights/convert.py");
  int64_t version = f.attr_int("format_version");
  EFFNET_CHECK(version == kWeightsFormatVersion, f.path(), ": weights format version ", version,
               " is not supported (this build reads version ", kWeightsFormatVersion, ")");
  WeightsMeta m;
  std::string variant = f.attr_string("variant");
  m.config = config_for(variant, f.attr_int("num_classes"));
  EfficientNetConfig& c = m.config;
  // The variant fixes the architecture; the file must agree with it.
  EFFNET_CHECK(std::abs(f.attr_double("width") - c.width) < 1e-9 && std::abs(f.attr_double("depth") - c.depth) < 1e-9,
               f.path(), ": width/depth attributes do not match variant ", variant);
  EFFNET_CHECK(f.attr_int("squeeze_excitation") == int64_t(c.squeeze_excitation) &&
                   f.attr_int("fix_stem_head") == int64_t(c.fix_stem_head),
               f.path(), ": squeeze_excitation / fix_stem_head attributes do not match variant ", variant);
  EFFNET_CHECK(f.attr_string("block_args") == block_args_string(c), f.path(), ": block_args '",
               f.attr_string("block_args"), "' differ from variant ", variant, "'s '", block_args_string(c), "'");
  // Settings that travel with the weights.
  c.activation = nn::parse_activation(f.attr_string("activation"));
  c.padding = nn::parse_padding_mode(f.attr_string("padding"));
  c.bn.eps = f.attr_double("bn_eps");
  c.bn.momentum = f.attr_double("bn_momentum");
  c.dropout = f.attr_double("dropout");
  c.drop_connect = f.attr_double("drop_connect");
  c.resolution = f.attr_int("resolution");
  m.input_mean = f.attr_doubles("input_mean");
  m.input_std = f.attr_doubles("input_std");
  EFFNET_CHECK(m.input_mean.size() == 3 && m.input_std.size() == 3, f.path(), ": input_mean/input_std need 3 values");
  m.source = f.has_attr("source") ? f.attr_string("source") : "";
  return m;
}

WeightsMeta read_meta(const std::string& path) { return read_meta(h5::File::open(path)); }

void write_tensors(h5::File& f, const nn::Module& model, const std::string& group) {
  for (const auto& [name, t] : model.state()) f.write(group + "/" + name, t.detach().to(DType::Float32));
}

void read_tensors(const h5::File& f, nn::Module& model, const LoadOptions& opts, const std::string& group) {
  const std::string root = group.empty() ? "/" : group;
  std::vector<std::string> in_file = f.datasets(root);
  std::set<std::string> unused(in_file.begin(), in_file.end());
  std::ostringstream problems;
  int n_problems = 0;
  std::vector<std::pair<Tensor, Tensor>> staged;  // (model tensor, value read)
  for (const auto& [name, t] : model.state()) {
    if (opts.backbone_only && name.rfind("classifier.", 0) == 0) {
      unused.erase(name);
      continue;
    }
    if (!unused.count(name)) {
      if (opts.strict) problems << "\n  missing dataset '" << name << "' (model shape " << shape_str(t.shape()) << ")";
      n_problems += opts.strict;
      continue;
    }
    unused.erase(name);
    Shape s = f.shape(group + "/" + name);
    if (s != t.shape()) {
      problems << "\n  dataset '" << name << "': file shape " << shape_str(s) << ", model shape " << shape_str(t.shape());
      ++n_problems;
      continue;
    }
    staged.emplace_back(t, f.read(group + "/" + name, is_floating(t.dtype()) ? t.dtype() : DType::Float32));
  }
  if (opts.strict)
    for (const std::string& name : unused) {
      problems << "\n  unexpected dataset '" << name << "' (shape " << shape_str(f.shape(group + "/" + name)) << ")";
      ++n_problems;
    }
  EFFNET_CHECK(n_problems == 0, f.path(), ": weights do not fit the model (", n_problems, " problems):", problems.str());
  NoGradGuard no_grad;
  for (auto& [dst, src] : staged) dst.copy_(src);
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
