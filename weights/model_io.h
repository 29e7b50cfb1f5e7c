// Saving and loading model weights in effnet's HDF5 format (docs/weights-format.md).
// Loading is strict by default: every tensor of the model must be in the file with the same shape,
// and the file may hold nothing else; otherwise the error names each dataset and both shapes, and
// the model is left untouched (everything is read and checked before anything is copied in).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "efficientnet/efficientnet.h"
#include "weights/hdf5.h"

namespace effnet {

constexpr int64_t kWeightsFormatVersion = 1;

// What a weights file says about the model beside its tensors.
struct WeightsMeta {
  EfficientNetConfig config;
  std::string source;
  std::vector<double> input_mean{0.485, 0.456, 0.406};
  std::vector<double> input_std{0.229, 0.224, 0.225};
};

struct LoadOptions {
  bool strict = true;           // unexpected or missing tensors are errors
  bool backbone_only = false;   // skip classifier.* (the model keeps its own classifier)
};

void write_meta(h5::File& f, const WeightsMeta& meta);
// Reads and validates the root attributes (format, version, architecture).
WeightsMeta read_meta(const h5::File& f);
WeightsMeta read_meta(const std::string& path);

// Every parameter and buffer of `model`, plus the attributes of `meta`; atomic (tmp + rename).
void save_weights(const nn::Module& model, const std::string& path, const WeightsMeta& meta);
// Writes the model's tensors into an open file (used by checkpoints too).
void write_tensors(h5::File& f, const nn::Module& model, const std::string& group = "");
// A load split in two: stage_tensors() reads every tensor and checks names, shapes and element
// types without touching the model (throwing with the list of problems); commit() then copies the
// values in. Checkpoints stage the model, restore the optimizer, then commit, so that a failure
// anywhere leaves both unchanged.
struct StagedTensors {
  std::vector<std::pair<Tensor, Tensor>> pairs;  // (model tensor, value read from the file)
  void commit();
};
StagedTensors stage_tensors(const h5::File& f, const nn::Module& model, const LoadOptions& opts = {},
                            const std::string& group = "");
// Reads the model's tensors from an open file (strict checks as described above).
void read_tensors(const h5::File& f, nn::Module& model, const LoadOptions& opts = {}, const std::string& group = "");
void load_weights(nn::Module& model, const std::string& path, const LoadOptions& opts = {});

// Builds the EfficientNet a file describes and loads it. With num_classes > 0 and different from
// the file's, the backbone is loaded and a fresh classifier of that size is created (fine-tuning
// an ImageNet model on another label set).
std::shared_ptr<EfficientNet> load_efficientnet(const std::string& path, int64_t num_classes = 0,
                                                WeightsMeta* meta_out = nullptr);

}  // namespace effnet
