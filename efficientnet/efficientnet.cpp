// EfficientNet builder and layer table (see efficientnet.h).
#include "efficientnet/efficientnet.h"

namespace effnet {

using namespace nn;

EfficientNet::EfficientNet(const EfficientNetConfig& cfg, Generator& gen) : cfg_(cfg) {
  EFFNET_CHECK(cfg.num_classes > 0, "EfficientNet: num_classes must be positive, got ", cfg.num_classes);
  const int64_t stem_c = stem_channels(cfg), head_c = head_channels(cfg);
  std::vector<ScaledBlock> sb = scaled_blocks(cfg);

  stem = register_module("stem", std::make_shared<Sequential>());
  stem->add("conv", std::make_shared<Conv2d>(Conv2dOptions{3, stem_c, 3, 2, 1, false, cfg.padding}, gen));
  stem->add("bn", std::make_shared<BatchNorm2d>(stem_c, cfg.bn));
  stem->add("act", make_activation(cfg.activation));

  blocks = register_module("blocks", std::make_shared<Sequential>());
  for (size_t i = 0; i < sb.size(); ++i)
    blocks->add(std::to_string(i), std::make_shared<MBConv>(MBConvOptions{sb[i], cfg.activation, cfg.padding, cfg.bn}, gen));

  head = register_module("head", std::make_shared<Sequential>());
  head->add("conv", std::make_shared<Conv2d>(Conv2dOptions{sb.back().out_channels, head_c, 1, 1, 1, false, cfg.padding}, gen));
  head->add("bn", std::make_shared<BatchNorm2d>(head_c, cfg.bn));
  head->add("act", make_activation(cfg.activation));
  head->add("pool", std::make_shared<GlobalAvgPool>(true));

  dropout = register_module("dropout", std::make_shared<Dropout>(cfg.dropout));
  classifier = register_module("classifier", std::make_shared<Linear>(head_c, cfg.num_classes, true, gen));
}

Tensor EfficientNet::features(const Tensor& x) {
  EFFNET_CHECK(x.dim() == 4 && x.size(1) == 3, "EfficientNet-", cfg_.name, ": expected images (N, 3, H, W), got ",
               x.str());
  auto& stem_conv = static_cast<Conv2d&>(stem->at(0));
  auto& stem_bn = static_cast<BatchNorm2d&>(stem->at(1));
  // Stem and head as conv -> BN -> activation through ConvBnFold (layers/conv_bn_fold.h): in
  // inference folded convolutions with the activation fused, in training the activation fused
  // into the batch norm. The modules' own forward (stem->forward) computes the same unfused.
  Tensor h = blocks->forward(stem_fold_.forward(stem_conv, stem_bn, cfg_.activation, x));
  auto& head_conv = static_cast<Conv2d&>(head->at(0));
  auto& head_bn = static_cast<BatchNorm2d&>(head->at(1));
  h = head_fold_.forward(head_conv, head_bn, cfg_.activation, h);
  for (size_t i = 3; i < head->size(); ++i) h = head->at(i).forward(h);  // after conv, bn, act: the pooling
  return h;
}

Tensor EfficientNet::forward(const Tensor& x) { return classifier->forward(dropout->forward(features(x))); }

void EfficientNet::reset_classifier(int64_t num_classes, Generator& gen) {
  classifier->reset(num_classes, gen);
  cfg_.num_classes = num_classes;
}

void EfficientNet::freeze_backbone(bool frozen) {
  set_requires_grad(!frozen);
  classifier->set_requires_grad(true);
  backbone_frozen_ = frozen;
}

void EfficientNet::train(bool on) {
  Module::train(on);
  if (on && backbone_frozen_) {
    stem->eval();
    blocks->eval();
    head->eval();
  }
}

std::shared_ptr<EfficientNet> make_efficientnet(const std::string& name, int64_t num_classes, Generator& gen) {
  return std::make_shared<EfficientNet>(config_for(name, num_classes), gen);
}

namespace {
int64_t conv_macs(const Conv2d& c, int64_t out_h, int64_t out_w) {
  const Conv2dOptions& o = c.options();
  return o.out_channels * out_h * out_w * (o.in_channels / o.groups) * o.kernel * o.kernel;
}
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

std::vector<StageInfo> describe(const EfficientNet& net, int64_t image_size) {
  const EfficientNetConfig& cfg = net.config();
  std::vector<StageInfo> rows;
  int64_t hw = ceil_div(image_size, 2);
  auto& stem_conv = static_cast<Conv2d&>(net.stem->at(0));
  rows.push_back({"stem", {stem_channels(cfg), hw, hw}, net.stem->parameter_count(), conv_macs(stem_conv, hw, hw)});
  for (size_t i = 0; i < net.blocks->size(); ++i) {
    auto& blk = static_cast<MBConv&>(net.blocks->at(i));
    const ScaledBlock& b = blk.block();
    std::string stage = "stage" + std::to_string(b.stage);
    if (rows.back().name != stage) rows.push_back({stage, {}, 0, 0});
    StageInfo& row = rows.back();
    int64_t in_hw = hw;
    hw = ceil_div(hw, b.stride);
    int64_t macs = 0;
    if (blk.expand_conv) macs += conv_macs(*blk.expand_conv, in_hw, in_hw);
    macs += conv_macs(*blk.depthwise_conv, hw, hw);
    if (blk.se) macs += conv_macs(*blk.se->reduce, 1, 1) + conv_macs(*blk.se->expand, 1, 1);
    macs += conv_macs(*blk.project_conv, hw, hw);
    row.output = {b.out_channels, hw, hw};
    row.params += blk.parameter_count();
    row.macs += macs;
  }
  auto& head_conv = static_cast<Conv2d&>(net.head->at(0));
  rows.push_back({"head", {head_channels(cfg)}, net.head->parameter_count(), conv_macs(head_conv, hw, hw)});
  rows.push_back({"classifier", {cfg.num_classes}, net.classifier->parameter_count(),
                  net.classifier->in_features() * net.classifier->out_features()});
  return rows;
}

}  // namespace effnet
