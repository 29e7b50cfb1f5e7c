// EfficientNet variants, compound scaling and rounding (see config.h).
#include "efficientnet/config.h"

#include <algorithm>
#include <cmath>

namespace effnet {

std::vector<BlockArgs> default_block_args() {
  // repeats, kernel, stride, expand, in, out, se_ratio
  return {
      {1, 3, 1, 1, 32, 16, 0.25},  {2, 3, 2, 6, 16, 24, 0.25},   {2, 5, 2, 6, 24, 40, 0.25},
      {3, 3, 2, 6, 40, 80, 0.25},  {3, 5, 1, 6, 80, 112, 0.25},  {4, 5, 2, 6, 112, 192, 0.25},
      {1, 3, 1, 6, 192, 320, 0.25},
  };
}

namespace {
struct Coefficients {
  const char* name;
  double width, depth;
  int64_t resolution;
  double dropout;
  bool lite;
};
// TF efficientnet_params and efficientnet_lite_params.
const Coefficients kVariants[] = {
    {"b0", 1.0, 1.0, 224, 0.2, false},    {"b1", 1.0, 1.1, 240, 0.2, false},    {"b2", 1.1, 1.2, 260, 0.3, false},
    {"b3", 1.2, 1.4, 300, 0.3, false},    {"b4", 1.4, 1.8, 380, 0.4, false},    {"b5", 1.6, 2.2, 456, 0.4, false},
    {"b6", 1.8, 2.6, 528, 0.5, false},    {"b7", 2.0, 3.1, 600, 0.5, false},    {"lite0", 1.0, 1.0, 224, 0.2, true},
    {"lite1", 1.0, 1.1, 240, 0.2, true},  {"lite2", 1.1, 1.2, 260, 0.3, true},  {"lite3", 1.2, 1.4, 280, 0.3, true},
    {"lite4", 1.4, 1.8, 300, 0.3, true},
};
}  // namespace

std::vector<std::string> variant_names() {
  std::vector<std::string> out;
  for (const auto& v : kVariants) out.push_back(v.name);
  return out;
}

EfficientNetConfig config_for(const std::string& name_in, int64_t num_classes) {
  std::string name = name_in;
  for (const char* prefix : {"efficientnet-", "efficientnet_"})
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  for (const auto& v : kVariants) {
    if (name != v.name) continue;
    EfficientNetConfig c;
    c.name = v.name;
    c.width = v.width;
    c.depth = v.depth;
    c.resolution = v.resolution;
    c.dropout = v.dropout;
    c.num_classes = num_classes;
    if (v.lite) {
      // EfficientNet-Lite: ReLU6, no squeeze-excitation, fixed stem/head (TF efficientnet_lite_builder).
      c.activation = nn::Activation::ReLU6;
      c.squeeze_excitation = false;
      c.fix_stem_head = true;
      for (auto& b : c.blocks) b.se_ratio = 0.0;
    }
    return c;
  }
  std::string valid;
  for (const auto& v : kVariants) valid += std::string(valid.empty() ? "" : ", ") + v.name;
  EFFNET_THROW("unknown model '", name_in, "' (expected one of ", valid, ")");
}

int64_t round_filters(int64_t filters, double width, int64_t divisor) {
  double f = double(filters) * width;
  int64_t rounded = std::max<int64_t>(divisor, int64_t(f + double(divisor) / 2) / divisor * divisor);
  if (double(rounded) < 0.9 * f) rounded += divisor;
  return rounded;
}

int64_t round_repeats(int64_t repeats, double depth) { return int64_t(std::ceil(depth * double(repeats))); }

int64_t stem_channels(const EfficientNetConfig& cfg) {
  return cfg.fix_stem_head ? 32 : round_filters(32, cfg.width, cfg.depth_divisor);
}
int64_t head_channels(const EfficientNetConfig& cfg) {
  return cfg.fix_stem_head ? 1280 : round_filters(1280, cfg.width, cfg.depth_divisor);
}

std::vector<ScaledBlock> scaled_blocks(const EfficientNetConfig& cfg) {
  std::vector<ScaledBlock> out;
  const size_t n_stages = cfg.blocks.size();
  for (size_t s = 0; s < n_stages; ++s) {
    const BlockArgs& b = cfg.blocks[s];
    int64_t in = round_filters(b.in_channels, cfg.width, cfg.depth_divisor);
    int64_t outc = round_filters(b.out_channels, cfg.width, cfg.depth_divisor);
    bool fixed = cfg.fix_stem_head && (s == 0 || s + 1 == n_stages);
    int64_t repeats = fixed ? b.repeats : round_repeats(b.repeats, cfg.depth);
    if (s == 0 && cfg.fix_stem_head) in = 32;  // the stem is not scaled, so neither is stage 1's input
    for (int64_t r = 0; r < repeats; ++r) {
      int64_t block_in = r == 0 ? in : outc;
      int64_t se = (cfg.squeeze_excitation && b.se_ratio > 0)
                       ? std::max<int64_t>(1, int64_t(double(block_in) * b.se_ratio))
                       : 0;
      out.push_back({int64_t(s + 1), block_in, outc, b.kernel, r == 0 ? b.stride : 1, b.expand_ratio, se, 0.0});
    }
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].drop_connect = cfg.drop_connect * double(i) / double(out.size());
  return out;
}

}  // namespace effnet
