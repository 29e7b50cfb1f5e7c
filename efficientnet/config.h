// EfficientNet configuration: the B0 block arguments, the compound-scaling coefficients of every
// variant (B0-B7, Lite0-4) and the rounding rules that turn them into channel and repeat counts.
// One configuration describes a network completely; there is no per-variant code.
// Facts from ../shared/reference/efficientnet.md (TF efficientnet_builder.py and its ports).
#pragma once

#include <string>
#include <vector>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv.h"

namespace effnet {

struct BlockArgs {
  int64_t repeats, kernel, stride, expand_ratio, in_channels, out_channels;
  double se_ratio;  // 0: no squeeze-excitation
};

// The seven stages of B0 (TF _DEFAULT_BLOCKS_ARGS).
std::vector<BlockArgs> default_block_args();

struct EfficientNetConfig {
  std::string name = "b0";
  double width = 1.0, depth = 1.0;
  int64_t resolution = 224;
  double dropout = 0.2;
  double drop_connect = 0.2;  // block i of N gets drop_connect * i / N
  int64_t num_classes = 1000;
  nn::Activation activation = nn::Activation::Swish;
  bool squeeze_excitation = true;
  // Lite: stem (32) and head (1280) widths and the first/last stage repeats are not scaled.
  bool fix_stem_head = false;
  nn::PaddingMode padding = nn::PaddingMode::Symmetric;
  nn::BatchNormOptions bn{1e-5, 0.1};
  int64_t depth_divisor = 8;
  std::vector<BlockArgs> blocks = default_block_args();
};

// Limits on settings read from files and command lines, checked where they are read. B7's native
// resolution is 600 and ImageNet-21k has 21,843 classes; beyond these a setting is a typo (a
// 100,000-pixel side asks for terabytes) rather than a model.
constexpr int64_t kMaxResolution = 4096;
constexpr int64_t kMaxClasses = 1000000;

// "b0".."b7", "lite0".."lite4" (also "efficientnet-b0", "efficientnet_b0"); throws on others,
// listing the valid names.
EfficientNetConfig config_for(const std::string& name, int64_t num_classes = 1000);
std::vector<std::string> variant_names();

// TF round_filters: scale, round to the divisor, never more than 10 % below the scaled value.
int64_t round_filters(int64_t filters, double width, int64_t divisor = 8);
// TF round_repeats: ceil(depth * repeats).
int64_t round_repeats(int64_t repeats, double depth);

// The per-block settings after scaling: one entry per MBConv block, in order.
struct ScaledBlock {
  int64_t stage, in_channels, out_channels, kernel, stride, expand_ratio, se_channels;
  double drop_connect;
};
std::vector<ScaledBlock> scaled_blocks(const EfficientNetConfig& cfg);
int64_t stem_channels(const EfficientNetConfig& cfg);
int64_t head_channels(const EfficientNetConfig& cfg);

}  // namespace effnet
