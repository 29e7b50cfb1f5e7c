// Keras files written by Keras itself: tests/python/keras_reference.py (in the TensorFlow/Keras
// environment scripts/setup.sh makes) saves keras.applications EfficientNets with random weights
// and perturbed batch-norm statistics in each layout (Keras 3 .weights.h5 and .keras, legacy
// whole-model .h5 and legacy weights-only .h5) with Keras' logits. Each file is converted by
// weights/convert.py with Debian's interpreter, as a user would, and the C++ model must give Keras'
// logits on the same pixels, normalised with the mean/std the converter read from the file's own
// Rescaling/Normalization layers. Skipped, with the reason, where the environment is missing.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "tests/testing/reference_script.h"
#include "weights/model_io.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

std::string keras_venv() {
  const char* venv = std::getenv("EFFNET_KERAS_VENV");
  return venv ? venv : "/opt/effnet-keras";
}

// Under the build tree, made once; "" or the reason to skip ("FAIL: ..." when the script broke).
// ctest runs the cases in parallel processes: the first makes the files while the others wait on
// a lock, then find them made.
std::string make_fixtures(const std::string& dir) {
  if (!std::filesystem::exists(keras_venv() + "/.complete"))
    return "no TensorFlow/Keras environment at " + keras_venv() + " (scripts/setup.sh makes it)";
  std::filesystem::create_directories(dir);
  const int lock = ::open((dir + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) return "FAIL: cannot lock " + dir + ".lock";
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // closing releases the lock
  } unlock{lock};
  if (std::filesystem::exists(dir + "/complete")) return "";
  const std::string why = run_reference_script(
      keras_venv() + "/bin/python " + source_dir() + "/tests/python/keras_reference.py " + dir, dir + "/reference.log");
  if (why.empty()) write_file(dir + "/complete", "ok\n");
  return why;
}

struct KerasCase : NamedCase {
  const char* fixture;  // keras_reference.py's case
  const char* file;     // the file of that case in one layout
  const char* layout;   // what convert.py must say it read
};

class KerasParity : public ::testing::TestWithParam<KerasCase> {};

TEST_P(KerasParity, ConvertedFileGivesKerasLogits) {
  const KerasCase& c = GetParam();
  const std::string dir = (std::filesystem::current_path() / "keras_fixtures").string();
  const std::string why = make_fixtures(dir);
  if (why.rfind("FAIL", 0) == 0) FAIL() << why;
  if (!why.empty()) GTEST_SKIP() << why;

  const std::string out = dir + "/" + c.name + ".effnet.h5", log = dir + "/" + c.name + ".convert.log";
  const std::string failed = run_reference_script(
      "/usr/bin/python3 " + source_dir() + "/weights/convert.py " + dir + "/" + c.file + " " + out, log);
  ASSERT_EQ(failed, "");
  const std::string said = read_file(log);
  EXPECT_NE(said.find(c.layout), std::string::npos) << said;
  EXPECT_NE(said.find("from the Keras file's layers"), std::string::npos) << said;

  WeightsMeta meta;
  auto net = load_efficientnet(out, 0, &meta);
  EXPECT_EQ(meta.config.padding, nn::PaddingMode::Same);
  EXPECT_DOUBLE_EQ(meta.config.bn.eps, 1e-3);
  h5::File ref = h5::File::open(dir + "/" + std::string(c.fixture) + "_ref.h5");
  // The normalisation the converter derived equals the one Keras' layers amount to.
  const auto want_mean = ref.read("input_mean", DType::Float64).to_vector<double>();
  const auto want_std = ref.read("input_std", DType::Float64).to_vector<double>();
  for (size_t ch = 0; ch < 3; ++ch) {
    EXPECT_NEAR(meta.input_mean[ch], want_mean[ch], 1e-7) << "channel " << ch;
    EXPECT_NEAR(meta.input_std[ch], want_std[ch], 1e-7 * want_std[ch]) << "channel " << ch;
  }
  // Pixels 0-255 normalised as the apps do (framework/data/transforms.cpp), in float.
  Tensor x = ref.read("pixels");
  float* p = x.data<float>();
  const int64_t plane = x.size(2) * x.size(3);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const size_t ch = size_t((i / plane) % 3);
    p[i] = (p[i] / 255.0f - float(meta.input_mean[ch])) / float(meta.input_std[ch]);
  }
  net->eval();
  NoGradGuard no_grad;
  Tensor logits = net->forward(x);
  const double rel = relative_l2(logits, ref.read("logits"));
  EXPECT_LT(rel, 1e-5) << "logits against Keras";
  std::printf("[ %s ] relative L2 to Keras' logits %.3g\n", c.name, rel);
}

// Every layout of B0 at 65x65 (odd sizes at every stride-2 layer: TF SAME pads symmetrically) and
// 224; B1 (other depth); the ImageNet-style model in every layout; include_top=False with the
// user's own head.
INSTANTIATE_TEST_SUITE_P(
    Files, KerasParity,
    ::testing::Values(KerasCase{"b0_65_weights", "b0_65", "b0_65.weights.h5", "Keras 3 .weights.h5"},
                      KerasCase{"b0_65_keras", "b0_65", "b0_65.keras", "Keras 3 .keras"},
                      KerasCase{"b0_65_legacy", "b0_65", "b0_65_legacy.h5", "legacy Keras .h5 (whole model)"},
                      KerasCase{"b0_65_legacy_weights", "b0_65", "b0_65_legacy_weights.h5", "legacy Keras .h5 (weights)"},
                      KerasCase{"b0_224_weights", "b0_224", "b0_224.weights.h5", "Keras 3 .weights.h5"},
                      KerasCase{"b0_224_legacy", "b0_224", "b0_224_legacy.h5", "legacy Keras .h5 (whole model)"},
                      KerasCase{"b1_65_weights", "b1_65", "b1_65.weights.h5", "Keras 3 .weights.h5"},
                      KerasCase{"b1_65_keras", "b1_65", "b1_65.keras", "Keras 3 .keras"},
                      KerasCase{"imagenet_weights", "b0_imagenet_224", "b0_imagenet_224.weights.h5", "Keras 3 .weights.h5"},
                      KerasCase{"imagenet_keras", "b0_imagenet_224", "b0_imagenet_224.keras", "Keras 3 .keras"},
                      KerasCase{"imagenet_legacy", "b0_imagenet_224", "b0_imagenet_224_legacy.h5",
                              "legacy Keras .h5 (whole model)"},
                      KerasCase{"imagenet_legacy_weights", "b0_imagenet_224", "b0_imagenet_224_legacy_weights.h5",
                              "legacy Keras .h5 (weights)"},
                      KerasCase{"head_weights", "b0_head_65", "b0_head_65.weights.h5", "Keras 3 .weights.h5"},
                      KerasCase{"head_keras", "b0_head_65", "b0_head_65.keras", "Keras 3 .keras"},
                      KerasCase{"head_legacy", "b0_head_65", "b0_head_65_legacy.h5", "legacy Keras .h5 (whole model)"}),
    CaseName());

}  // namespace
