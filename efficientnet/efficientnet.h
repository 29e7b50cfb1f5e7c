// The EfficientNet network built from a configuration:
//   stem: conv 3x3 stride 2 -> BN -> act
//   blocks.0 .. blocks.N-1: MBConv
//   head: conv 1x1 -> BN -> act -> global average pool -> dropout -> classifier (Linear)
// Parameter names: stem.conv.weight, stem.bn.*, blocks.{i}.{expand_conv,expand_bn,depthwise_conv,
// depthwise_bn,se.reduce,se.expand,project_conv,project_bn}.*, head.conv.weight, head.bn.*,
// classifier.{weight,bias}.
#pragma once

#include <memory>
#include <string>

#include "efficientnet/config.h"
#include "efficientnet/mbconv.h"
#include "layers/linear.h"
#include "layers/pooling.h"

namespace effnet {

class EfficientNet : public nn::Module {
 public:
  explicit EfficientNet(const EfficientNetConfig& cfg, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "EfficientNet"; }
  const EfficientNetConfig& config() const { return cfg_; }

  // Pooled features (N, head_channels) before dropout and the classifier.
  Tensor features(const Tensor& x);
  // A fresh classifier for another number of classes (fine-tuning a pretrained backbone).
  void reset_classifier(int64_t num_classes, Generator& gen = default_generator());
  // Freezes (or unfreezes) everything except the classifier. A frozen backbone also keeps its
  // batch-norm statistics: train() then leaves stem, blocks and head in evaluation mode, so that
  // only the classifier (and the dropout before it) trains.
  void freeze_backbone(bool frozen = true);
  bool backbone_frozen() const { return backbone_frozen_; }
  void train(bool on = true) override;

  std::shared_ptr<nn::Sequential> stem, blocks, head;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> classifier;

 private:
  EfficientNetConfig cfg_;
  bool backbone_frozen_ = false;
  nn::ConvBnFold stem_fold_, head_fold_;
};

std::shared_ptr<EfficientNet> make_efficientnet(const std::string& name, int64_t num_classes = 1000,
                                                Generator& gen = default_generator());

// One row per stage of the layer table printed by `effnet info`.
struct StageInfo {
  std::string name;  // "stem", "stage1".."stage7", "head", "classifier"
  Shape output;      // per-image output shape (C, H, W) or (classes)
  int64_t params = 0;
  int64_t macs = 0;  // multiply-adds of convolutions and the classifier
};
std::vector<StageInfo> describe(const EfficientNet& net, int64_t image_size);

}  // namespace effnet
