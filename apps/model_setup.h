// What the apps share before any work starts: choosing the device, checking that files and
// folders exist, the dataset folder layout of `effnet prepare`, model names and weights files
// (architecture checks), class names stored in checkpoints, and the evaluation transform a
// checkpoint implies. Every check throws a one-line error naming the file or value.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/config_file.h"
#include "efficientnet/efficientnet.h"
#include "framework/data/dataset.h"
#include "framework/data/transforms.h"
#include "weights/model_io.h"

namespace effnet::app {

// "auto": cuda when this build has CUDA and a GPU is visible, else cpu. "cuda" without a GPU is
// an error.
Device choose_device(const std::string& name);
// requested > 0 as is; otherwise 4 loader threads for a GPU, 1 on the CPU (where they would take
// cores from the model).
int loader_workers(Device device, int64_t requested);

void require_file(const std::string& path, const std::string& what);
void require_dir(const std::string& path, const std::string& what);

// The folder layout written by `effnet prepare` (optional parts are empty when absent).
struct DataLayout {
  std::string labeled, order_csv, classes_file, unlabeled, unlabeled_labels, test, test_labels;
};
DataLayout data_layout(const std::string& root);

// Where labeled images come from.
struct LabeledSource {
  std::string dir;           // <dir>/<class>/<file>
  std::string order_csv;     // optional: the split order (effnet prepare's labeled_order.csv)
  std::string classes_file;  // optional: class names in label order (classes.txt)
  bool skip_bad_images = false;
};
// The labeled tree, classes in classes_file's order when given (else sorted folder names).
data::Dataset load_labeled(const LabeledSource& source);
// A folder of unlabeled images, and a test folder with an optional label CSV. Like load_labeled,
// decoding uses every core and each image left out under skip_bad_images is printed with why.
data::Dataset load_unlabeled(const std::string& dir, bool skip_bad_images);
data::Dataset load_test(const std::string& dir, const std::string& labels_csv, bool skip_bad_images);
// Dataset indices in the order of `order_csv` (file,label rows; labels must agree with the tree),
// or, without one, numpy RandomState(seed).permutation of the dataset.
std::vector<int64_t> labeled_order(const data::Dataset& ds, const std::string& order_csv, uint32_t seed);

// Throws for an unknown variant, listing the known ones.
void check_model_name(const std::string& name);
// The weights file exists, is an effnet weights file, and (when `model` is non-empty) is for that
// variant. Returns its metadata.
WeightsMeta check_weights_file(const std::string& path, const std::string& model);

// "class.0 = name" entries for checkpoint settings, and back.
Settings class_settings(const std::vector<std::string>& classes);
std::vector<std::string> classes_from_settings(const std::vector<ConfigEntry>& settings);

struct LoadedModel {
  std::shared_ptr<EfficientNet> net;
  WeightsMeta meta;
  std::vector<std::string> classes;  // one per output
  std::vector<ConfigEntry> settings; // a checkpoint's stored settings (empty for plain weights)
};
// A weights file or checkpoint for inference or further training. Class names come from the
// checkpoint's settings, else from `class_names_file` when given, else (1000 outputs) from
// weights/imagenet_classes.txt, else "0".."k-1".
LoadedModel load_model(const std::string& path, const std::string& class_names_file = "");
// weights/imagenet_classes.txt beside the source tree or the binary; empty when not found.
std::string find_imagenet_classes();

// The input resolution a stage runs at: image_size, or the weights' own when it is 0.
inline int64_t input_resolution(const WeightsMeta& meta, int64_t image_size) {
  return image_size > 0 ? image_size : meta.config.resolution;
}
// Resize to input_resolution(meta, image_size), normalise with the weights' mean/std.
data::Transform eval_transform(const WeightsMeta& meta, int64_t image_size);

}  // namespace effnet::app
