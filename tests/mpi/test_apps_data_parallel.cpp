// The effnet command under `mpirun -np N` on the tiny shapes data set (tests/testing/shapes_data.h):
//   - world size 1 through the distributed code path (`mpirun -np 1`) equals the plain command bit
//     for bit (checkpoints with optimizer state, predictions);
//   - sharded pseudo-labelling (2 and 3 ranks, unequal shares) writes the CSV of one process;
//   - a 2-rank pipeline whose rank 1 dies mid-epoch ends as a whole within 60 s with a non-zero
//     status and an intact last.h5, and the resumed 2-rank run ends with exactly the files of an
//     uninterrupted 2-rank run; resuming at another world size is refused, naming it.
// This program is not itself launched by mpirun: it starts the jobs (tests/CMakeLists.txt).
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/testing/files.h"
#include "tests/testing/shapes_data.h"
#include "weights/checkpoint.h"

using namespace effnet;
using namespace effnet::testing;
namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }
std::string mpirun(int ranks) {
  return std::string(EFFNET_MPIEXEC) + " --oversubscribe --allow-run-as-root -np " + std::to_string(ranks) + " ";
}

// Runs the command line (one compute thread per process), output to `log`; returns the exit status.
int run(const std::string& cmd, const fs::path& log) {
  const std::string line = "OMP_NUM_THREADS=1 " + cmd + " > " + quoted(log) + " 2>&1";
  const int status = std::system(line.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const std::string kEffnet = std::string("'") + EFFNET_CLI_PATH + "' ";

// 40 labeled images per class: 128 train / 32 validation; at 2 ranks x batch 16, 4 steps an epoch.
const char* kConfig =
    "model = b0\nimage-size = 16\nbatch = 16\nlr = 0.01\nmomentum = 0.9\nweight-decay = 1e-4\n"
    "finetune-epochs = 3\nfinetune-patience = 3\nfinetune-val = 0.2\n"
    "temperature = 0.5\nthreshold = 0.5\nretrain-epochs = 2\nretrain-patience = 2\n"
    "device = cpu\nlog-every = 0\n";

class DataParallelApps : public ::testing::Test {
 protected:
  void SetUp() override {
    root = test_temp_dir();
    make_shapes_dataset(root / "data", 40, 91, 61);  // odd counts: unequal shards
    write_file(root / "tiny.conf", kConfig);
  }
  std::string pipeline(const fs::path& out) const {
    return "pipeline --config " + quoted(root / "tiny.conf") + " --data " + quoted(root / "data") + " --out " +
           quoted(out);
  }
  std::string finetune(const fs::path& out, int epochs) const {
    return "finetune --data " + quoted(root / "data") + " --out " + quoted(out) +
           " --image-size 16 --batch 16 --val 0.2 --device cpu --log-every 0 --epochs " + std::to_string(epochs);
  }
  fs::path root;
};

TEST_F(DataParallelApps, WorldSizeOneEqualsThePlainPathBitForBit) {
  ASSERT_EQ(run(kEffnet + finetune(root / "plain", 2), root / "plain.log"), 0) << read_file(root / "plain.log");
  ASSERT_EQ(run(mpirun(1) + kEffnet + finetune(root / "mpi1", 2), root / "mpi1.log"), 0)
      << read_file(root / "mpi1.log");
  for (const char* file : {"best.h5", "last.h5"}) expect_same_tensors(root / "plain" / file, root / "mpi1" / file);
  const std::string predict = "predict --checkpoint " + quoted(root / "plain" / "best.h5") + " --input " +
                              quoted(root / "data" / "test") + " --device cpu --out ";
  ASSERT_EQ(run(kEffnet + predict + quoted(root / "plain.csv"), root / "p.log"), 0) << read_file(root / "p.log");
  ASSERT_EQ(run(mpirun(1) + kEffnet + predict + quoted(root / "mpi1.csv"), root / "m.log"), 0)
      << read_file(root / "m.log");
  EXPECT_EQ(read_file(root / "plain.csv"), read_file(root / "mpi1.csv"));
}

TEST_F(DataParallelApps, ShardedPseudoLabellingWritesTheCsvOfOneProcess) {
  ASSERT_EQ(run(kEffnet + finetune(root / "ft", 2), root / "ft.log"), 0) << read_file(root / "ft.log");
  const std::string label = "pseudolabel --checkpoint " + quoted(root / "ft" / "best.h5") + " --unlabeled " +
                            quoted(root / "data" / "unlabeled") + " --threshold 0.3 --batch 16 --device cpu --out ";
  ASSERT_EQ(run(kEffnet + label + quoted(root / "one.csv"), root / "one.log"), 0) << read_file(root / "one.log");
  const std::string one = read_file(root / "one.csv");
  EXPECT_GT(std::count(one.begin(), one.end(), '\n'), 10) << one;  // enough rows kept to compare
  for (int ranks : {2, 3}) {
    const fs::path csv = root / ("ranks" + std::to_string(ranks) + ".csv");
    ASSERT_EQ(run(mpirun(ranks) + kEffnet + label + quoted(csv), root / "n.log"), 0) << read_file(root / "n.log");
    EXPECT_EQ(read_file(csv), one) << ranks << " ranks";
  }
}

TEST_F(DataParallelApps, OneRankDyingEndsTheJobAndTheResumeEqualsAnUninterruptedRun) {
  ASSERT_EQ(run(mpirun(2) + kEffnet + pipeline(root / "full"), root / "full.log"), 0) << read_file(root / "full.log");
  const std::string full_log = read_file(root / "full.log");
  EXPECT_NE(full_log.find("test accuracy"), std::string::npos) << full_log;

  // Rank 1 ends after its 6th step (fine-tune epoch 2, batch 2); rank 0 is then waiting in the
  // next all-reduce, and must not wait for ever.
  const fs::path out = root / "resumed";
  const auto t0 = std::chrono::steady_clock::now();
  const int crashed = run("EFFNET_CRASH_RANK=1 " + mpirun(2) + "-x EFFNET_CRASH_RANK '" + EFFNET_CRASHING_PATH +
                              "' 6 " + pipeline(out),
                          root / "crash.log");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string crash_log = read_file(root / "crash.log");
  EXPECT_NE(crashed, 0) << crash_log;
  EXPECT_LT(seconds, 60.0) << crash_log;
  EXPECT_NE(crash_log.find("simulated crash after step 6 (epoch 2, batch 2)"), std::string::npos) << crash_log;
  ASSERT_TRUE(fs::exists(out / "finetune" / "last.h5")) << crash_log;
  EXPECT_EQ(read_training_state((out / "finetune" / "last.h5").string()).epoch, 1);  // whole, and epoch 1's
  EXPECT_FALSE(fs::exists(out / "finetune" / "done.txt"));

  // Another world size is refused, naming it.
  EXPECT_EQ(run(kEffnet + pipeline(out), root / "one.log"), 1);
  EXPECT_NE(read_file(root / "one.log").find("world-size"), std::string::npos) << read_file(root / "one.log");

  ASSERT_EQ(run(mpirun(2) + kEffnet + pipeline(out), root / "resume.log"), 0) << read_file(root / "resume.log");
  EXPECT_NE(read_file(root / "resume.log").find("finetune: resuming from"), std::string::npos)
      << read_file(root / "resume.log");
  for (const char* file : {"finetune/best.h5", "finetune/last.h5", "retrain/best.h5", "retrain/last.h5"})
    expect_same_tensors(root / "full" / file, out / file);
  for (const char* file : {"pseudolabel/pseudo_labels.csv", "predict/predictions.csv", "finetune/test_predictions.csv"})
    EXPECT_EQ(read_file(root / "full" / file), read_file(out / file)) << file;
}

}  // namespace
