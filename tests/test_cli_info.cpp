// `effnet info FILE.h5` run as a process on files saved here: a weights file and a checkpoint print
// their attributes, tensor counts and training state; a file that is not one fails with status 1
// and a one-line error. The binary's path comes from CMake (EFFNET_CLI_PATH).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "framework/framework.h"
#include "weights/checkpoint.h"
#include "weights/model_io.h"

using namespace effnet;
namespace fs = std::filesystem;

namespace {

struct CliResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

CliResult run_cli(const std::string& args) {
  CliResult r;
  const std::string cmd = std::string("'") + EFFNET_CLI_PATH + "' " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class CliInfo : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(EFFNET_CLI_PATH)) GTEST_SKIP() << "effnet binary not built: " << EFFNET_CLI_PATH;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("effnet_cli_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// Lite0 (the smallest variant, 4.7M parameters with 1000 classes; here 5 classes) with settings
// that differ from the defaults, so that the printout has to come from the file.
WeightsMeta lite_meta() {
  WeightsMeta m;
  m.config = config_for("lite0", 5);
  m.config.padding = nn::PaddingMode::Same;
  m.config.bn = {1e-3, 0.01};
  m.source = "lukemelas:unit-test.pth";
  m.input_mean = {0.5, 0.5, 0.5};
  m.input_std = {0.25, 0.25, 0.25};
  return m;
}

#define EXPECT_LINE(out, text) EXPECT_NE((out).find(text), std::string::npos) << "missing: " << (text) << "\n" << (out)

TEST_F(CliInfo, WeightsFile) {
  WeightsMeta m = lite_meta();
  Generator gen(1);
  EfficientNet net(m.config, gen);
  save_weights(net, path("lite.h5"), m);
  CliResult r = run_cli("info '" + path("lite.h5") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_LINE(r.output, "effnet-weights version 1");
  EXPECT_LINE(r.output, "variant        lite0 (width 1, depth 1, resolution 224)");
  EXPECT_LINE(r.output, "classes        5\n");
  EXPECT_LINE(r.output, "activation     relu6, squeeze-excitation off");
  EXPECT_LINE(r.output, "padding        same");
  EXPECT_LINE(r.output, "batch norm     eps 0.001, momentum 0.01");
  EXPECT_LINE(r.output, "source         lukemelas:unit-test.pth");
  EXPECT_LINE(r.output, "mean 0.5 0.5 0.5, std 0.25 0.25 0.25");
  EXPECT_EQ(r.output.find("               from "), std::string::npos) << "effnet's own files record no origin";
  // Counted independently here: every parameter and buffer of the model.
  int64_t params = net.parameter_count(), buffers = 0;
  for (auto& [name, b] : net.named_buffers()) buffers += b.numel();
  const size_t tensors = net.state().size();
  EXPECT_LINE(r.output, "tensors        " + std::to_string(tensors) + " (" +
                            std::to_string(net.named_parameters().size()) + " parameter tensors, " +
                            std::to_string(params) + " parameters; " + std::to_string(buffers) + " buffer values)");
  EXPECT_LINE(r.output, "checkpoint     no");
}

// weights/convert.py records where the input normalisation came from; info shows it.
TEST_F(CliInfo, ConvertedFileSaysWhereItsNormalisationCameFrom) {
  WeightsMeta m = lite_meta();
  Generator gen(1);
  EfficientNet net(m.config, gen);
  {
    h5::File f = h5::File::create(path("converted.h5"));
    write_meta(f, m);
    write_tensors(f, net);
    f.set_attr("input_normalisation", std::string("the Keras file's layers: rescaling (1/255)"));
    f.close();
  }
  CliResult r = run_cli("info '" + path("converted.h5") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_LINE(r.output, "mean 0.5 0.5 0.5, std 0.25 0.25 0.25 (of [0, 1] RGB)\n"
                        "               from the Keras file's layers: rescaling (1/255)\n");
}

TEST_F(CliInfo, Checkpoint) {
  WeightsMeta m = lite_meta();
  Generator gen(1);
  EfficientNet net(m.config, gen);
  SGD sgd(net.parameters(), 0.25, 0.9);
  for (auto& p : net.parameters()) p.set_grad(ones_like(p));
  sgd.step();
  TrainingState s;
  s.stage = "finetune";
  s.epoch = 3;
  s.step = 42;
  s.best_metric = 0.875;
  s.best_epoch = 2;
  s.config = "model=lite0\nepochs=10\n";
  save_checkpoint(path("ckpt.h5"), net, m, &sgd, s);
  CliResult r = run_cli("info '" + path("ckpt.h5") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_LINE(r.output, "variant        lite0");
  EXPECT_LINE(r.output, "checkpoint     stage finetune, epoch 3, step 42");
  EXPECT_LINE(r.output, "best metric    0.875 (epoch 2");
  EXPECT_LINE(r.output, "optimizer      SGD, lr 0.25, 1 steps, " + std::to_string(net.named_parameters().size()) +
                            " state tensors");
  EXPECT_LINE(r.output, "model=lite0\nepochs=10\n");
}

TEST_F(CliInfo, NotAWeightsFileFailsWithOneLine) {
  { std::ofstream(path("junk.h5")) << "not hdf5 at all"; }
  CliResult r = run_cli("info '" + path("junk.h5") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_LINE(r.output, "effnet info: error: ");
  EXPECT_LINE(r.output, "not an HDF5 file");
  r = run_cli("info '" + path("missing.h5") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_LINE(r.output, "missing.h5: cannot open HDF5 file: No such file or directory");
}

TEST_F(CliInfo, LayerTableWithoutAFileStillWorks) {
  CliResult r = run_cli("info --model b0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_LINE(r.output, "EfficientNet-b0");
  EXPECT_LINE(r.output, "total");
}

}  // namespace
