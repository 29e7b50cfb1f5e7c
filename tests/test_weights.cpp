// Weights files and checkpoints (weights/model_io.h, weights/checkpoint.h): save -> load round
// trips, one test per malformed-file case (a table of them) with the documented message, the
// guarantee that a failed load changes nothing, backbone-only and new-classifier loads,
// bit-identical resume of SGD and Adam from a checkpoint, and atomic writes (a crash mid-write
// keeps the previous file).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "framework/framework.h"
#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "weights/checkpoint.h"
#include "weights/hdf5_integrity.h"
#include "weights/model_io.h"
#include "tests/testing/errors.h"
#include "tests/testing/files.h"

using namespace effnet;
using namespace effnet::testing;
namespace fs = std::filesystem;

namespace {

// ctest runs every TEST as its own process, possibly in parallel: one folder per test and process.
class Weights : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterised: Name/Case
    dir_ = fs::temp_directory_path() / ("effnet_weights_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// B0 with 10 classes: 4M parameters, a 16 MB file; small enough to write many times.
EfficientNetConfig small_config() {
  EfficientNetConfig c = config_for("b0", 10);
  c.padding = nn::PaddingMode::Same;  // not the default, so that the round trip has to carry it
  c.bn = {1e-3, 0.01};
  return c;
}

WeightsMeta meta_for(const EfficientNetConfig& c) {
  WeightsMeta m;
  m.config = c;
  m.source = "test_weights";
  m.input_mean = {0.5, 0.25, 0.125};
  m.input_std = {0.2, 0.3, 0.4};
  return m;
}

// A model whose buffers are not their defaults either (running statistics drawn at random).
std::shared_ptr<EfficientNet> random_model(uint64_t seed, const EfficientNetConfig& c = small_config()) {
  Generator gen(seed);
  auto net = std::make_shared<EfficientNet>(c, gen);
  NoGradGuard no_grad;
  for (auto& [name, b] : net->named_buffers()) {
    if (name.find("running_mean") != std::string::npos) b.copy_(normal(b.shape(), 0.0, 0.1, gen));
    if (name.find("running_var") != std::string::npos) b.copy_(uniform(b.shape(), 0.5, 1.5, gen));
  }
  return net;
}

std::map<std::string, Tensor> snapshot(const nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : m.state()) out[name] = t.detach().clone();
  return out;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor x = a.detach().to(Device::cpu()), y = b.detach().to(Device::cpu());
  return std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

// Every tensor of `m` equals the snapshot bit for bit; `except` names a prefix to skip.
void expect_state(const nn::Module& m, const std::map<std::string, Tensor>& want, const std::string& except = "") {
  int checked = 0;
  for (auto& [name, t] : m.state()) {
    if (!except.empty() && name.rfind(except, 0) == 0) continue;
    ASSERT_TRUE(want.count(name)) << name;
    EXPECT_TRUE(bit_equal(t, want.at(name))) << name << " differs";
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

// Writes a weights file by hand: meta and tensors of `model`, then `tweak` (an edit that makes the
// file malformed), skipping the datasets in `skip`.
void write_file(const std::string& path, const nn::Module& model, const WeightsMeta& meta,
                const std::function<void(h5::File&)>& tweak = {}, const std::set<std::string>& skip = {}) {
  h5::File f = h5::File::create(path);
  write_meta(f, meta);
  for (auto& [name, t] : model.state())
    if (!skip.count(name)) f.write("/" + name, t.detach());
  if (tweak) tweak(f);
  f.close();
}

Tensor images(uint64_t seed, int64_t n = 2, int64_t size = 32) {
  Generator gen(seed);
  return randn({n, 3, size, size}, gen);
}

// ---- round trip ------------------------------------------------------------------------------------

TEST_F(Weights, RoundTripGivesIdenticalTensorsMetaAndOutputs) {
  auto a = random_model(1);
  save_weights(*a, path("w.h5"), meta_for(small_config()));
  EXPECT_FALSE(fs::exists(path("w.h5.tmp")));

  auto b = random_model(2);
  load_weights(*b, path("w.h5"));
  expect_state(*b, snapshot(*a));

  WeightsMeta m = read_meta(path("w.h5"));
  EXPECT_EQ(m.config.name, "b0");
  EXPECT_EQ(m.config.num_classes, 10);
  EXPECT_EQ(m.config.padding, nn::PaddingMode::Same);
  EXPECT_EQ(m.config.activation, nn::Activation::Swish);
  EXPECT_DOUBLE_EQ(m.config.bn.eps, 1e-3);
  EXPECT_DOUBLE_EQ(m.config.bn.momentum, 0.01);
  EXPECT_DOUBLE_EQ(m.config.dropout, 0.2);
  EXPECT_EQ(m.source, "test_weights");
  EXPECT_EQ(m.input_mean, (std::vector<double>{0.5, 0.25, 0.125}));
  EXPECT_EQ(m.input_std, (std::vector<double>{0.2, 0.3, 0.4}));

  // The file alone rebuilds the model: same settings, same outputs, in both modes (no dropout in
  // eval; in train mode the same masks from the same generator state).
  auto c = load_efficientnet(path("w.h5"));
  EXPECT_EQ(c->config().padding, nn::PaddingMode::Same);
  EXPECT_DOUBLE_EQ(c->config().bn.eps, 1e-3);
  Tensor x = images(3);
  a->eval();
  c->eval();
  NoGradGuard no_grad;
  EXPECT_TRUE(bit_equal(a->forward(x), c->forward(x)));
}

TEST_F(Weights, CudaModelSavesAndLoads) {
  EFFNET_REQUIRE_CUDA();
  // Saving reads device tensors back to the host; loading copies host values into device tensors.
  auto a = random_model(1);
  auto want = snapshot(*a);
  a->to(Device::cuda());
  save_weights(*a, path("w.h5"), meta_for(small_config()));
  auto b = random_model(2);
  b->to(Device::cuda());
  load_weights(*b, path("w.h5"));
  EXPECT_TRUE(b->device().is_cuda());
  expect_state(*b, want);
  auto c = random_model(3);  // and a CPU model reads the file a GPU model wrote
  load_weights(*c, path("w.h5"));
  expect_state(*c, want);
}

TEST_F(Weights, SaveReplacesAnExistingFile) {
  save_weights(*random_model(1), path("w.h5"), meta_for(small_config()));
  auto a = random_model(2);
  save_weights(*a, path("w.h5"), meta_for(small_config()));
  auto b = random_model(3);
  load_weights(*b, path("w.h5"));
  expect_state(*b, snapshot(*a));
}

TEST_F(Weights, Float64DatasetsAreConverted) {
  // h5py writes Python floats as float64; such a file loads (converted, as PyTorch's copy_ does).
  auto a = random_model(1);
  write_file(path("w.h5"), *a, meta_for(small_config()),
             [&](h5::File& f) { f.write("/classifier.bias", a->classifier->bias.detach().to(DType::Float64)); },
             {"classifier.bias"});
  auto b = random_model(2);
  load_weights(*b, path("w.h5"));
  expect_state(*b, snapshot(*a));
}

// ---- malformed files: one case per documented error ---------------------------------------------------

using MakeFile = std::function<void(const std::string& path, const nn::Module& source)>;

// The weights of `source` written by hand, with `tweak` applied and the datasets in `skip` left out.
MakeFile tweaked(std::function<void(h5::File&)> tweak, std::set<std::string> skip = {}) {
  return [=](const std::string& path, const nn::Module& source) {
    write_file(path, source, meta_for(small_config()), tweak, skip);
  };
}

// `n` ones with `value` at index `at`.
Tensor with_value_at(int64_t n, int64_t at, float value) {
  Tensor t = ones({n});
  t.data<float>()[at] = value;
  return t;
}

void add_unexpected_dataset(h5::File& f) { f.write("/blocks.99.extra.weight", zeros({4, 2})); }

// Weights as a file without effnet's checksum header (a file of an older effnet or another
// writer, which HDF5 reads unverified): the 512-byte block before the HDF5 image is dropped.
void save_without_checksum(const std::string& path, const nn::Module& source) {
  save_weights(source, path, meta_for(small_config()));
  const std::string bytes = effnet::testing::read_file(path);
  ASSERT_EQ(bytes.rfind("effnet-h5 v1 crc32 ", 0), 0u);
  effnet::testing::write_file(path, bytes.substr(h5::kIntegrityBlock));
}

// Weights with the byte at `at` (from the end when negative) changed, or the header's text
// replaced by `header`.
MakeFile damaged_checked_file(long at, const std::string& header = "") {
  return [=](const std::string& path, const nn::Module& source) {
    save_weights(source, path, meta_for(small_config()));
    std::string bytes = effnet::testing::read_file(path);
    if (!header.empty()) bytes.replace(0, header.size(), header);
    else bytes[at >= 0 ? size_t(at) : bytes.size() - size_t(-at)] ^= 0x10;
    effnet::testing::write_file(path, bytes);
  };
}

// Weights (without checksum) whose first global heap collection's first object gets heap index `index` and size
// `size` (the collection follows the layout of the HDF5 specification: a 16-byte header, then each
// object's index at +0 and size at +8).
MakeFile damaged_global_heap(uint16_t index, uint64_t size) {
  return [=](const std::string& path, const nn::Module& source) {
    save_without_checksum(path, source);
    std::string bytes = effnet::testing::read_file(path);
    const size_t heap = bytes.find("GCOL");
    ASSERT_NE(heap, std::string::npos);
    for (int i = 0; i < 2; ++i) bytes[heap + 16 + i] = char(index >> (8 * i));
    for (int i = 0; i < 8; ++i) bytes[heap + 24 + i] = char(size >> (8 * i));
    effnet::testing::write_file(path, bytes);
  };
}

// Weights (without checksum) whose dataset `name` has its object header overwritten (the damage
// fuzzing produced: HDF5 cannot open the object, so it must not be reported as missing). HDF5
// 1.10's object info.
MakeFile damaged_object_header(const std::string& name) {
  return [=](const std::string& path, const nn::Module& source) {
    save_without_checksum(path, source);
    haddr_t addr = 0;
    {
      h5::File f = h5::File::open(path);
      H5O_info_t info;
      ASSERT_GE(H5Oget_info_by_name2(f.id(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT), 0);
      addr = info.addr;
    }
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(std::streamoff(addr));
    const std::string garbage(16, '\xEE');
    out.write(garbage.data(), std::streamsize(garbage.size()));
  };
}

// A malformed file: how it is made from a model of small_config() (no maker: no file at all), what
// loading it must say besides the file's path, and the class count of the model that loads it.
struct MalformedCase : NamedCase {
  MakeFile make;
  std::vector<std::string> message;
  int64_t classes = 10;
};

const MalformedCase kMalformed[] = {
    {"MissingFile", nullptr, {"cannot open HDF5 file: No such file or directory"}},
    {"NonHdf5File",
     [](const std::string& path, const nn::Module&) {
       std::ofstream out(path, std::ios::binary);
       std::mt19937 rng(7);
       for (int i = 0; i < 4096; ++i) out.put(char(rng()));
     },
     {"not an HDF5 file"}},
    {"TruncatedFile",
     [](const std::string& path, const nn::Module& source) {
       save_weights(source, path, meta_for(small_config()));
       fs::resize_file(path, fs::file_size(path) / 2);
     },
     {"truncated or extended: its checksum header says ", "(an incomplete copy or download?)"}},
    {"TruncatedFileWithoutChecksum",
     [](const std::string& path, const nn::Module& source) {
       save_without_checksum(path, source);
       fs::resize_file(path, fs::file_size(path) / 2);
     },
     {"truncated"}},
    {"WrongFormatAttribute", tweaked([](h5::File& f) { f.set_attr("format", std::string("keras-weights")); }),
     {"not an effnet weights file", "'keras-weights'", "convert.py"}},
    // A plain HDF5 file (e.g. a Keras .h5 given by mistake) has no format attribute at all.
    {"MissingFormatAttribute",
     [](const std::string& path, const nn::Module&) {
       h5::File f = h5::File::create(path);
       f.write("/x", ones({2}));
       f.close();
     },
     {"not an effnet weights file", "missing"}},
    {"WrongFormatVersion", tweaked([](h5::File& f) { f.set_attr("format_version", int64_t(2)); }),
     {"format_version 2 is not supported", "reads version 1"}},
    // Nothing half-loaded: the backbone tensors, which fit, are not copied either.
    {"ShapeMismatchNamesDatasetAndBothShapes",
     [](const std::string& path, const nn::Module& source) { save_weights(source, path, meta_for(small_config())); },
     {"dataset 'classifier.weight': file shape [10, 1280], model shape [12, 1280]",
      "dataset 'classifier.bias': file shape [10], model shape [12]", "2 problems"},
     12},
    {"MissingDataset", tweaked({}, {"blocks.3.depthwise_bn.running_var"}),
     {"missing dataset 'blocks.3.depthwise_bn.running_var' (model shape [144])", "1 problem)"}},
    {"UnexpectedDataset", tweaked(add_unexpected_dataset),
     {"unexpected dataset 'blocks.99.extra.weight' (shape [4, 2])"}},
    {"NonFloatDataset",
     tweaked([](h5::File& f) { f.write("/stem.bn.running_mean", zeros({32}, DType::Int64)); },
             {"stem.bn.running_mean"}),
     {"dataset 'stem.bn.running_mean': element type int64, expected float32"}},
    // Every tensor read from a file is checked finite: the message names the dataset, the count
    // and the first bad value (a NaN statistic would otherwise give NaN confidences, exit 0).
    {"NonFiniteRunningMean",
     tweaked([](h5::File& f) { f.write("/blocks.3.depthwise_bn.running_mean", with_value_at(144, 5, NAN)); },
             {"blocks.3.depthwise_bn.running_mean"}),
     {"dataset '/blocks.3.depthwise_bn.running_mean' holds 1 non-finite value of 144 (the first, at flat index 5, "
      "is nan)", "diverged run"}},
    {"InfiniteWeight",
     tweaked([](h5::File& f) { f.write("/classifier.bias", with_value_at(10, 9, -INFINITY)); }, {"classifier.bias"}),
     {"dataset '/classifier.bias' holds 1 non-finite value of 10 (the first, at flat index 9, is -inf)"}},
    // Every file effnet writes carries a checksum of its bytes (hdf5_integrity.h), checked before
    // HDF5 reads any of them: a changed byte anywhere is refused as such.
    {"ChecksumMismatch", damaged_checked_file(-100),
     {"checksum mismatch (crc32 ", "its header says", "damaged after it was written"}},
    {"ChecksumMismatchInTheSuperblock", damaged_checked_file(512 + 20),
     {"checksum mismatch (crc32 "}},
    {"DamagedIntegrityHeader", damaged_checked_file(0, "effnet-h5 v1 crc32 zz"),
     {"damaged integrity header (the first 512 bytes start like effnet's checksum header but do not parse"}},
    // A damaged signature must not make the file one that is read unverified.
    {"DamagedIntegritySignature", damaged_checked_file(0, "effnet-h4"),
     {"its first 512 bytes are not effnet's checksum header (damaged, or the user block of another HDF5 writer)"}},
    // In a file without the header (an older effnet's, another writer's), HDF5 1.10 never finishes reading a global heap (where string attributes live) whose
    // free-space object has size 0, and reads past its buffer for an object larger than its
    // collection: such files are refused before HDF5 reads them (fuzzing findings).
    {"GlobalHeapHdf5WouldReadForever", damaged_global_heap(0, 0),
     {"damaged global heap collection at byte ", "(a free-space object of size 0, which HDF5 1.10 would read forever"}},
    {"GlobalHeapObjectPastItsEnd", damaged_global_heap(1, 1 << 20),
     {"damaged global heap collection at byte ", "(object 1 of 1048576 bytes runs past the collection's end"}},
    {"DamagedObjectHeader", damaged_object_header("/stem.bn.running_var"),
     {"'stem.bn.running_var' in group / cannot be read (its object header is damaged: corrupt file)"}},
    {"NegativeVariance",
     tweaked([](h5::File& f) { f.write("/stem.bn.running_var", with_value_at(32, 0, -0.5f)); }, {"stem.bn.running_var"}),
     {"dataset 'stem.bn.running_var' holds a negative variance"}},
};

class MalformedFile : public Weights, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedFile, LoadFailsNamingFileAndProblemAndChangesNothing) {
  const MalformedCase& c = GetParam();
  const std::string p = path("w.h5");
  if (c.make) c.make(p, *random_model(1));
  EfficientNetConfig config = small_config();
  config.num_classes = c.classes;
  auto b = random_model(2, config);
  auto before = snapshot(*b);
  std::string msg = error_of([&] { load_weights(*b, p); });
  EXPECT_HAS(msg, p);
  for (const std::string& part : c.message) EXPECT_HAS(msg, part);
  expect_state(*b, before);
}

INSTANTIATE_TEST_SUITE_P(Weights, MalformedFile, ::testing::ValuesIn(kMalformed), CaseName());

// Not strict: the extra dataset is ignored and everything else loads.
TEST_F(Weights, UnexpectedDatasetIsIgnoredWhenNotStrict) {
  auto a = random_model(1);
  write_file(path("w.h5"), *a, meta_for(small_config()), add_unexpected_dataset);
  auto b = random_model(2);
  LoadOptions lenient;
  lenient.strict = false;
  load_weights(*b, path("w.h5"), lenient);
  expect_state(*b, snapshot(*a));
}

TEST_F(Weights, AttributesInconsistentWithVariant) {
  auto a = random_model(1);
  struct Case {
    std::function<void(h5::File&)> tweak;
    std::string expected;
  };
  std::vector<Case> cases = {
      {[](h5::File& f) { f.set_attr("width", 1.1); }, "width 1.1, depth 1 do not match variant b0 (width 1, depth 1)"},
      {[](h5::File& f) { f.set_attr("squeeze_excitation", int64_t(0)); },
       "squeeze_excitation 0, fix_stem_head 0 do not match variant b0 (1, 0)"},
      {[](h5::File& f) { f.set_attr("block_args", std::string("r1_k3_s11_e1_i32_o16")); },
       "block_args 'r1_k3_s11_e1_i32_o16' does not match variant b0"},
      {[](h5::File& f) { f.set_attr("variant", std::string("b9")); }, "attribute variant 'b9': unknown model 'b9'"},
      {[](h5::File& f) { f.set_attr("num_classes", int64_t(0)); },
       "attribute num_classes = 0 is out of range: it must be in [1, 1000000]"},
      {[](h5::File& f) { f.set_attr("activation", std::string("gelu")); }, "attribute activation 'gelu': unknown"},
      {[](h5::File& f) { f.set_attr("padding", std::string("valid")); }, "attribute padding 'valid': unknown"},
      // Settings that travel with the weights are range-checked where they are read, naming the file.
      {[](h5::File& f) { f.set_attr("bn_eps", -1.0); }, "attribute bn_eps = -1 is out of range: it must be in (0, 1)"},
      {[](h5::File& f) { f.set_attr("dropout", 1.5); }, "attribute dropout = 1.5 is out of range: it must be in [0, 1)"},
      {[](h5::File& f) { f.set_attr("drop_connect", NAN); }, "attribute drop_connect = nan is out of range"},
      {[](h5::File& f) { f.set_attr("resolution", int64_t(100000)); },
       "attribute resolution = 100000 is out of range: it must be in [1, 4096] pixels"},
      {[](h5::File& f) { f.set_attr("input_std", std::vector<double>{0.229, 0.0, 0.225}); },
       "attribute input_std[1] = 0 is out of range: it must be finite and > 0"},
      {[](h5::File& f) { f.set_attr("input_mean", std::vector<double>{0.5, INFINITY, 0.5}); },
       "attribute input_mean[1] = inf is out of range: it must be finite"},
      {[](h5::File& f) { f.set_attr("input_mean", std::vector<double>{0.5}); },
       "attributes input_mean and input_std need 3 values each (one per RGB channel), got 1 and 3"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string p = path("w" + std::to_string(i) + ".h5");
    write_file(p, *a, meta_for(small_config()), cases[i].tweak);
    std::string msg = error_of([&] { load_efficientnet(p); });
    EXPECT_HAS(msg, cases[i].expected);
    EXPECT_HAS(msg, p);
  }
}

TEST_F(Weights, AttributeOfTheWrongKind) {
  auto a = random_model(1);
  write_file(path("w.h5"), *a, meta_for(small_config()), [](h5::File& f) {
    f.set_attr("num_classes", std::vector<double>{10, 10});  // an array where a scalar belongs
  });
  std::string msg = error_of([&] { read_meta(path("w.h5")); });
  EXPECT_HAS(msg, "attribute 'num_classes' is not a scalar");
  write_file(path("v.h5"), *a, meta_for(small_config()), [](h5::File& f) { f.set_attr("variant", int64_t(0)); });
  msg = error_of([&] { read_meta(path("v.h5")); });
  EXPECT_HAS(msg, "attribute 'variant' is not a string");
}

// ---- partial loads -------------------------------------------------------------------------------------

TEST_F(Weights, BackboneOnlyKeepsTheModelsClassifier) {
  auto a = random_model(1);  // 10 classes
  save_weights(*a, path("w.h5"), meta_for(small_config()));
  auto b = random_model(2, config_for("b0", 3));
  auto b_before = snapshot(*b);
  LoadOptions opts;
  opts.backbone_only = true;
  load_weights(*b, path("w.h5"), opts);
  expect_state(*b, snapshot(*a), "classifier.");
  EXPECT_TRUE(bit_equal(b->classifier->weight, b_before.at("classifier.weight")));
  EXPECT_TRUE(bit_equal(b->classifier->bias, b_before.at("classifier.bias")));
}

TEST_F(Weights, LoadEfficientNetWithOtherClassCountMakesAFreshClassifier) {
  auto a = random_model(1);
  save_weights(*a, path("w.h5"), meta_for(small_config()));
  WeightsMeta meta;
  auto b = load_efficientnet(path("w.h5"), 4, &meta);
  EXPECT_EQ(b->config().num_classes, 4);
  EXPECT_EQ(meta.config.num_classes, 4);
  EXPECT_EQ(b->classifier->weight.shape(), (Shape{4, 1280}));
  EXPECT_EQ(b->classifier->bias.shape(), (Shape{4}));
  EXPECT_GT(std::abs(b->classifier->weight.detach().to_vector<float>()[0]), 0.0f);  // initialised, not zeros
  expect_state(*b, snapshot(*a), "classifier.");
  EXPECT_EQ(meta.config.padding, nn::PaddingMode::Same);  // the file's settings still apply
  NoGradGuard no_grad;
  b->eval();
  EXPECT_EQ(b->forward(images(3)).shape(), (Shape{2, 4}));

  // The same count as the file (or 0) loads everything.
  auto c = load_efficientnet(path("w.h5"), 10);
  expect_state(*c, snapshot(*a));
  auto d = load_efficientnet(path("w.h5"));
  expect_state(*d, snapshot(*a));
}

// ---- checkpoints --------------------------------------------------------------------------------------

struct Batch {
  Tensor x, y;
};

std::vector<Batch> batches(int n) {
  std::vector<Batch> out;
  Generator gen(11);
  for (int i = 0; i < n; ++i) out.push_back({randn({2, 3, 32, 32}, gen), randint(0, 10, {2}, gen)});
  return out;
}

// One training step in train mode: dropout, drop-connect (default generator) and BN statistics.
void train_step(EfficientNet& net, Optimizer& opt, const Batch& b) {
  net.train();
  opt.zero_grad();
  Tensor loss = cross_entropy(net.forward(b.x), b.y);
  loss.backward();
  opt.step();
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, const nn::Module& net) {
  if (kind == "SGD") return std::make_unique<SGD>(net.parameters(), 0.05, 0.9, 0.0, 1e-4, true);
  return std::make_unique<Adam>(net.parameters(), 1e-3, 0.9, 0.999, 1e-8, 1e-4);
}

class Resume : public Weights, public ::testing::WithParamInterface<const char*> {};

TEST_P(Resume, FromCheckpointIsBitIdentical) {
  const std::string kind = GetParam();
  const auto data = batches(4);
  manual_seed(123);
  auto a = random_model(1);
  auto opt_a = make_optimizer(kind, *a);
  train_step(*a, *opt_a, data[0]);
  train_step(*a, *opt_a, data[1]);
  TrainingState s;
  s.stage = "finetune";
  s.epoch = 1;
  s.step = opt_a->step_count();
  s.best_metric = 0.625;
  s.best_epoch = 1;
  s.rng_seed = default_generator().seed();
  s.rng_offset = default_generator().offset();
  s.config = "model=b0\nlr=0.05\n";
  save_checkpoint(path("ckpt.h5"), *a, meta_for(small_config()), opt_a.get(), s);
  train_step(*a, *opt_a, data[2]);
  train_step(*a, *opt_a, data[3]);

  // A fresh process would start from other weights, another generator position and no state.
  manual_seed(999);
  auto b = random_model(2);
  auto opt_b = make_optimizer(kind, *b);
  opt_b->set_lr(0.5);
  TrainingState r = load_checkpoint(path("ckpt.h5"), *b, opt_b.get());
  EXPECT_EQ(r.stage, "finetune");
  EXPECT_EQ(r.epoch, 1);
  EXPECT_EQ(r.step, 2);
  EXPECT_DOUBLE_EQ(r.best_metric, 0.625);
  EXPECT_EQ(r.best_epoch, 1);
  EXPECT_EQ(r.config, "model=b0\nlr=0.05\n");
  EXPECT_EQ(opt_b->step_count(), 2);
  EXPECT_DOUBLE_EQ(opt_b->lr(), opt_a->lr());
  default_generator().set_state(r.rng_seed, r.rng_offset);
  train_step(*b, *opt_b, data[2]);
  train_step(*b, *opt_b, data[3]);

  expect_state(*b, snapshot(*a));  // parameters and BN statistics
  EXPECT_EQ(opt_b->step_count(), opt_a->step_count());
  auto sa = opt_a->state(), sb = opt_b->state();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(bit_equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
  // The checkpoint is a weights file too.
  EXPECT_TRUE(is_checkpoint(path("ckpt.h5")));
  auto c = load_efficientnet(path("ckpt.h5"));
  EXPECT_EQ(c->config().num_classes, 10);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, Resume, ::testing::Values("SGD", "Adam"),
                         [](const auto& info) { return std::string(info.param); });

TEST_F(Weights, CheckpointWithOptimizerOfAnotherTypeIsRefused) {
  auto a = random_model(1);
  SGD sgd(a->parameters(), 0.1, 0.9);
  const auto data = batches(1);
  train_step(*a, sgd, data[0]);
  save_checkpoint(path("ckpt.h5"), *a, meta_for(small_config()), &sgd, TrainingState{});
  auto b = random_model(2);
  auto before = snapshot(*b);
  Adam adam(b->parameters());
  std::string msg = error_of([&] { load_checkpoint(path("ckpt.h5"), *b, &adam); });
  EXPECT_HAS(msg, "optimizer state is for SGD, not Adam");
  expect_state(*b, before);
  EXPECT_EQ(adam.step_count(), 0);
  EXPECT_TRUE(adam.state().empty());
}

TEST_F(Weights, CheckpointOptimizerStateThatDoesNotFitChangesNothing) {
  // SGD over all parameters saved; loaded into an SGD over the classifier only: the indices and
  // shapes disagree, so load_state refuses, and the model must not have been loaded either.
  auto a = random_model(1);
  SGD sgd(a->parameters(), 0.1, 0.9);
  train_step(*a, sgd, batches(1)[0]);
  save_checkpoint(path("ckpt.h5"), *a, meta_for(small_config()), &sgd, TrainingState{});
  auto b = random_model(2);
  auto before = snapshot(*b);
  SGD head_only(b->classifier->parameters(), 0.1, 0.9);
  std::string msg = error_of([&] { load_checkpoint(path("ckpt.h5"), *b, &head_only); });
  EXPECT_HAS(msg, "optimizer state does not fit");
  expect_state(*b, before);
  EXPECT_EQ(head_only.step_count(), 0);
}

TEST_F(Weights, CheckpointWeightAverageRoundTripsAndMismatchesChangeNothing) {
  auto a = random_model(1);
  SGD sgd(a->parameters(), 0.1, 0.9);
  ExponentialMovingAverage ema(a->state(), 0.9);
  for (const auto& batch : batches(2)) {
    train_step(*a, sgd, batch);
    ema.update();
  }
  save_checkpoint(path("ckpt.h5"), *a, meta_for(small_config()), &sgd, TrainingState{}, &ema);
  {
    auto b = random_model(2);
    SGD sgd_b(b->parameters(), 0.1, 0.9);
    ExponentialMovingAverage ema_b(b->state(), 0.9);
    load_checkpoint(path("ckpt.h5"), *b, &sgd_b, &ema_b);
    EXPECT_EQ(ema_b.updates(), 2);
    for (size_t i = 0; i < ema.averages().size(); ++i)
      EXPECT_EQ(ema_b.averages()[i].second.to_vector<float>(), ema.averages()[i].second.to_vector<float>())
          << ema.averages()[i].first;
    expect_state(*b, snapshot(*a));  // the model tensors are the trained ones, not the average
  }
  // Another decay, or a checkpoint without an average: refused, and nothing is changed.
  auto b = random_model(2);
  auto before = snapshot(*b);
  SGD sgd_b(b->parameters(), 0.1, 0.9);
  ExponentialMovingAverage other(b->state(), 0.99);
  const std::vector<float> avg_before = other.averages()[0].second.to_vector<float>();
  EXPECT_HAS(error_of([&] { load_checkpoint(path("ckpt.h5"), *b, &sgd_b, &other); }),
             "its weight average has decay 0.9, not 0.99");
  expect_state(*b, before);
  EXPECT_EQ(sgd_b.step_count(), 0);
  EXPECT_TRUE(sgd_b.state().empty());
  EXPECT_EQ(other.updates(), 0);
  EXPECT_EQ(other.averages()[0].second.to_vector<float>(), avg_before);
  save_checkpoint(path("plain.h5"), *a, meta_for(small_config()), &sgd, TrainingState{});
  EXPECT_HAS(error_of([&] { load_checkpoint(path("plain.h5"), *b, &sgd_b, &other); }), "holds no weight average");
  expect_state(*b, before);
  EXPECT_EQ(sgd_b.step_count(), 0);
}

TEST_F(Weights, ModelOnlyCheckpoint) {
  auto a = random_model(1);
  TrainingState s;
  s.stage = "best";
  save_checkpoint(path("best.h5"), *a, meta_for(small_config()), nullptr, s);
  auto b = random_model(2);
  EXPECT_EQ(load_checkpoint(path("best.h5"), *b, nullptr).stage, "best");
  expect_state(*b, snapshot(*a));
  SGD sgd(b->parameters(), 0.1);
  EXPECT_HAS(error_of([&] { load_checkpoint(path("best.h5"), *b, &sgd); }), "holds no optimizer state");
  // A plain weights file is not a checkpoint.
  save_weights(*a, path("w.h5"), meta_for(small_config()));
  EXPECT_FALSE(is_checkpoint(path("w.h5")));
  EXPECT_HAS(error_of([&] { read_training_state(path("w.h5")); }), "not a training checkpoint");
}

TEST_F(Weights, LeftoverTmpFromACrashDoesNotMatter) {
  auto a = random_model(1);
  save_checkpoint(path("ckpt.h5"), *a, meta_for(small_config()), nullptr, TrainingState{});
  // A crash while writing the next checkpoint leaves a partial NAME.tmp behind.
  {
    std::ofstream out(path("ckpt.h5.tmp"), std::ios::binary);
    out << "\x89HDF\r\n\x1a\n half a file";
  }
  auto b = random_model(2);
  load_checkpoint(path("ckpt.h5"), *b, nullptr);
  expect_state(*b, snapshot(*a));
  // The next save writes over the leftover and completes.
  auto c = random_model(3);
  save_checkpoint(path("ckpt.h5"), *c, meta_for(small_config()), nullptr, TrainingState{});
  EXPECT_FALSE(fs::exists(path("ckpt.h5.tmp")));
  load_checkpoint(path("ckpt.h5"), *b, nullptr);
  expect_state(*b, snapshot(*c));
}

// A module whose tensors cannot all be written: the second "w" collides with the first in HDF5, so
// the write throws after part of the file has been written.
class Unwritable : public nn::Module {
 public:
  Unwritable() {
    register_parameter("w", ones({3}));
    register_parameter("w", ones({3}));
  }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Unwritable"; }
};

TEST_F(Weights, WriteThatFailsMidwayKeepsThePreviousFile) {
  auto a = random_model(1);
  TrainingState s;
  s.epoch = 7;
  save_checkpoint(path("ckpt.h5"), *a, meta_for(small_config()), nullptr, s);
  save_weights(*a, path("w.h5"), meta_for(small_config()));
  Unwritable bad;
  std::string msg = error_of([&] { save_checkpoint(path("ckpt.h5"), bad, meta_for(small_config()), nullptr, s); });
  EXPECT_HAS(msg, "could not create dataset '/w'");
  msg = error_of([&] { save_weights(bad, path("w.h5"), meta_for(small_config())); });
  EXPECT_HAS(msg, "could not create dataset '/w'");
  EXPECT_FALSE(fs::exists(path("ckpt.h5.tmp")));  // the partial file is cleaned up
  EXPECT_FALSE(fs::exists(path("w.h5.tmp")));
  auto b = random_model(2);
  EXPECT_EQ(load_checkpoint(path("ckpt.h5"), *b, nullptr).epoch, 7);
  expect_state(*b, snapshot(*a));
  auto c = random_model(3);
  load_weights(*c, path("w.h5"));
  expect_state(*c, snapshot(*a));
}


// A disk that fills while a checkpoint is written (here the file-size limit, as a full disk would):
// the error is the real one, the previous checkpoint is intact, no .tmp is left, and the process
// still exits cleanly. Before HDF5 files were built in memory, HDF5 failed to close the half-written
// file and the process crashed at exit inside HDF5's library shutdown, so the save runs in a child
// process that then exits normally (atexit handlers, HDF5's shutdown included). The "threadsafe"
// death-test style starts the child as a fresh process: a forked copy of this one would hang in
// the OpenMP runtime.
TEST_F(Weights, FullDiskWhileSavingIsTheRealErrorAndTheProcessExitsCleanly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto a = random_model(1);
  TrainingState s;
  s.epoch = 3;
  save_checkpoint(path("ckpt.h5"), *a, meta_for(small_config()), nullptr, s);
  auto b = random_model(2);
  auto save_on_a_full_disk = [&] {
    signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of the signal
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    limit.rlim_cur = 4096;  // far below the checkpoint's size
    setrlimit(RLIMIT_FSIZE, &limit);
    const std::string msg =
        error_of([&] { save_checkpoint(path("ckpt.h5"), *b, meta_for(small_config()), nullptr, s); });
    std::fprintf(stderr, "%s\n", msg.c_str());
    std::exit(0);
  };
  EXPECT_EXIT(save_on_a_full_disk(), ::testing::ExitedWithCode(0), "ckpt.h5: cannot write: File too large");
  EXPECT_FALSE(fs::exists(path("ckpt.h5.tmp")));
  auto c = random_model(4);
  EXPECT_EQ(load_checkpoint(path("ckpt.h5"), *c, nullptr).epoch, 3);
  expect_state(*c, snapshot(*a));
}

}  // namespace
