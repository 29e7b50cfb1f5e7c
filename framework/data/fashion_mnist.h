// Fashion-MNIST from the gzip IDX files of Debian's dataset-fashion-mnist, turned into the folder
// layout the apps read. The labeled split is the PyTorch reference's, drawn with numpy's
// RandomState(seed):  lab = concatenate([rng.permutation(where(Ytr == c)[0])[:k] for c in 0..9]);
// rng.shuffle(lab)  -- reproduced bit for bit through NumpyRandomState.
//   OUT/classes.txt                   the 10 class names, by label index
//   OUT/labeled/<class>/<idx>.png     k images per class (idx: training index, 5 digits)
//   OUT/labeled_order.csv             file,label of the labeled images in the reference's `lab`
//                                     order (its first 90% / last 10% are the train/val split)
//   OUT/unlabeled/<idx>.png           every other training image
//   OUT/unlabeled_labels.csv          their true labels, kept apart (pseudo-label precision only)
//   OUT/test/<idx>.png, OUT/test_labels.csv
//   OUT/.complete                     written last, holding the settings
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace effnet::data {

// An IDX array of unsigned bytes (magic 0x00 0x00 0x08 <ndim>), gzip-compressed or plain.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};
IdxArray read_idx(const std::string& path);

const std::vector<std::string>& fashion_mnist_classes();  // T-shirt_top, Trouser, ..., Ankle_boot

// The reference's `lab`: training indices of the labeled images, in its order.
std::vector<int64_t> labeled_split(const std::vector<uint8_t>& labels, int64_t per_class, uint32_t seed,
                                   int num_classes = 10);

struct FashionMnistOptions {
  std::string source = "/usr/share/datasets/fashion-mnist";
  std::string out;
  int64_t labels_per_class = 500;
  uint32_t seed = 0;
  int threads = 0;  // PNG-writing threads (0: all hardware threads)
};

struct PrepareSummary {
  int64_t labeled = 0, unlabeled = 0, test = 0;
  bool already_complete = false;  // nothing written: OUT/.complete matched these settings
};

// Idempotent: returns at once when OUT/.complete records the same settings; throws when it records
// others, or when OUT holds files this function did not write.
PrepareSummary prepare_fashion_mnist(const FashionMnistOptions& opts);

}  // namespace effnet::data
