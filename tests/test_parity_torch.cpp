// Whole-network parity with PyTorch on the same weights: for each source (torchvision B0/B3,
// lukemelas B0 with TF-SAME padding, timm and timm tf_ B0), a fixture made by
// tests/python/make_parity_fixture.py with Debian's torch holds converted random weights, an input,
// PyTorch's logits (eval and train mode), the loss and every parameter gradient. The C++ model
// loads the converted file and must reproduce them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "framework/ops/loss.h"
#include "tests/testing/cases.h"
#include "tests/testing/compare.h"
#include "tests/testing/reference_script.h"
#include "weights/model_io.h"

using namespace effnet;
using namespace effnet::testing;

namespace {

// Under the test working directory (the build tree), so a fresh build makes fresh fixtures.
std::string fixture_dir() { return std::filesystem::current_path() / "parity_fixtures"; }

// Runs the fixture script once per source; returns "" on success or the reason to skip.
std::string make_fixture(const std::string& name) {
  const std::string dir = fixture_dir();
  if (std::filesystem::exists(dir + "/" + name + "_ref.h5")) return "";
  if (std::system("/usr/bin/python3 -c 'import torch, h5py' >/dev/null 2>&1") != 0)
    return "Debian's python3-torch / python3-h5py are not installed (scripts/setup.sh installs them)";
  std::filesystem::create_directories(dir);
  return run_reference_script("PYTHONPATH=/opt/effnet-pydeps /usr/bin/python3 " + source_dir() +
                                  "/tests/python/make_parity_fixture.py " + name + " " + dir,
                              dir + "_" + name + ".log");
}

struct ParityCase : NamedCase {
  double logits_rel;  // relative L2 bound on the logits
  double grad_rel;    // relative L2 bound on each parameter gradient
};

class TorchParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(TorchParity, EvalLogitsTrainLossAndGradients) {
  const ParityCase& c = GetParam();
  std::string why = make_fixture(c.name);
  if (!why.empty()) {
    if (std::string(c.name).rfind("torchvision", 0) == 0) FAIL() << why;  // torchvision is always required
    GTEST_SKIP() << why;
  }
  const std::string dir = fixture_dir();
  auto net = load_efficientnet(dir + "/" + c.name + ".h5");
  h5::File ref = h5::File::open(dir + "/" + c.name + "_ref.h5");
  Tensor x = ref.read("input");
  Tensor y = ref.read_int64("labels");

  net->eval();
  {
    NoGradGuard no_grad;
    Tensor logits = net->forward(x);
    double rel = relative_l2(logits, ref.read("logits_eval"));
    EXPECT_LT(rel, c.logits_rel) << "eval logits";
  }
  net->train();
  Tensor logits = net->forward(x);
  EXPECT_LT(relative_l2(logits, ref.read("logits_train")), c.logits_rel) << "train logits";
  Tensor loss = cross_entropy(logits, y);
  double want = ref.read("loss_train", DType::Float64).to_vector<double>()[0];
  EXPECT_NEAR(loss.item(), want, 1e-4 * std::abs(want)) << "train loss";
  loss.backward();
  int checked = 0;
  for (auto& [name, p] : net->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    // The bias of a BN whose output only reaches the loss through another training-mode BN has a
    // gradient that is zero analytically (the next BN removes any per-channel shift); both
    // frameworks return rounding noise (~1e-7) there. Norms below 1e-2 (typical ones are 0.1-10)
    // are therefore compared against that floor instead of their own size.
    Tensor want_grad = ref.read("grad/" + name);
    double norm = std::sqrt(sum(mul(want_grad, want_grad)).item());
    double err = relative_l2(p.grad(), want_grad) * norm / std::max(norm, 1e-2);
    EXPECT_LT(err, c.grad_rel) << "gradient of " << name << " (reference norm " << norm << ")";
    ++checked;
  }
  EXPECT_EQ(checked, int(net->named_parameters().size()));
}

INSTANTIATE_TEST_SUITE_P(Sources, TorchParity,
                         ::testing::Values(ParityCase{"torchvision_b0", 1e-5, 1e-4}, ParityCase{"torchvision_b3", 1e-5, 1e-4},
                                           ParityCase{"lukemelas_b0", 1e-5, 1e-4}, ParityCase{"timm_b0", 1e-5, 1e-4},
                                           ParityCase{"timm_tf_b0", 1e-5, 1e-4}),
                         CaseName());

}  // namespace
