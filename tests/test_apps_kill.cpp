// Kill test: `effnet pipeline` on a tiny data set is killed with SIGKILL at random moments — in
// data loading, mid-epoch, while a checkpoint or another file is being written — and started
// again, over and over, until a run finishes. After every kill each file in the output folder must
// still be whole (every .h5 opens and reads as a weights file or checkpoint; a half-written file may
// exist only as NAME.tmp), and at the end every checkpoint, the pseudo-labels and the predictions
// must equal those of an uninterrupted run: each resume continued from the last complete epoch
// with nothing lost and nothing done twice.
// EFFNET_KILL_ROUNDS (default 1) repeats the whole kill-and-resume cycle; EFFNET_KILL_SEED fixes
// the kill moments (by default they differ per run, and the seed is printed); EFFNET_BINARY runs
// another effnet binary than the build's.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/files.h"
#include "tests/testing/shapes_data.h"
#include "weights/checkpoint.h"
#include "weights/model_io.h"

using namespace effnet;
using namespace effnet::testing;
namespace fs = std::filesystem;

namespace {

// The tiny recipe of test_apps_pipeline, shortened: 6 fine-tune epochs of 6 steps, 3 retrain epochs.
const char* kConfig =
    "model = b0\nimage-size = 16\nbatch = 32\nlr = 0.01\nmomentum = 0.9\nweight-decay = 1e-4\n"
    "finetune-epochs = 6\nfinetune-patience = 6\nfinetune-val = 0.2\n"
    "temperature = 0.5\nthreshold = 0.8\nretrain-epochs = 3\nretrain-patience = 3\n"
    "device = cpu\nlog-every = 0\n";

struct Outcome {
  bool finished = false;  // exited by itself (not killed)
  int status = -1;        // its exit status when it did
};

// Runs `effnet ARGS` (one compute thread, output appended to `log`) and kills it with SIGKILL once
// `seconds` have passed, unless it has exited by then.
Outcome run_and_kill_after(const std::vector<std::string>& args, double seconds, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::setenv("OMP_NUM_THREADS", "1", 1);
    std::vector<char*> argv;
    std::string binary = std::getenv("EFFNET_BINARY") ? std::getenv("EFFNET_BINARY") : EFFNET_CLI_PATH;
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  Outcome out;
  if (pid < 0) return out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int st = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      out.finished = WIFEXITED(st);
      out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &st, 0);
  if (WIFEXITED(st)) {  // it finished just before the signal
    out.finished = true;
    out.status = WEXITSTATUS(st);
  }
  return out;
}

// The output folder's *.tmp files (writes that a kill interrupted) and their modification times.
// A kill landed during a write when this changes across the run: a temporary file that is new or
// was written again (one left by an earlier kill stays until its file is next written).
std::map<std::string, fs::file_time_type> temporary_files(const fs::path& out) {
  std::map<std::string, fs::file_time_type> tmp;
  if (!fs::exists(out)) return tmp;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.path().extension() == ".tmp") tmp[e.path().string()] = fs::last_write_time(e.path());
  return tmp;
}

bool interrupted_a_write(const std::map<std::string, fs::file_time_type>& before,
                         const std::map<std::string, fs::file_time_type>& after) {
  for (const auto& [path, time] : after) {
    auto it = before.find(path);
    if (it == before.end() || it->second != time) return true;
  }
  return false;
}

// Every .h5 in the folder reads as a weights file (and a checkpoint's training state reads too):
// nothing the run had written is damaged. Returns the problems.
std::string damaged_files(const fs::path& out) {
  std::string problems;
  if (!fs::exists(out)) return problems;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    if (e.path().extension() != ".h5") continue;
    try {
      read_meta(e.path().string());
      if (is_checkpoint(e.path().string())) read_training_state(e.path().string());
    } catch (const std::exception& ex) {
      problems += "\n  " + e.path().string() + ": " + ex.what();
    }
  }
  return problems;
}

// A stage record without its timings (the lines "….seconds = …" and "….images_per_second = …"),
// which differ between any two runs.
std::string without_timings(const std::string& record) {
  std::string out, line;
  for (size_t start = 0; start < record.size();) {
    size_t end = record.find('\n', start);
    if (end == std::string::npos) end = record.size();
    line = record.substr(start, end - start);
    const std::string key = line.substr(0, line.find(" = "));
    auto ends_with = [&](const std::string& tail) {
      return key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
    };
    const bool timing = ends_with("seconds") || ends_with("per_second");
    if (!timing) out += line + "\n";
    start = end + 1;
  }
  return out;
}

uint32_t kill_seed() {
  if (const char* s = std::getenv("EFFNET_KILL_SEED")) return uint32_t(std::strtoul(s, nullptr, 10));
  return std::random_device{}();
}

}  // namespace

TEST(KillTest, EveryResumeContinuesFromTheLastCompleteEpochWithNothingLost) {
  const fs::path root = test_temp_dir();
  make_shapes_dataset(root / "data", 60, 160, 160);
  write_file(root / "kill.conf", kConfig);
  auto args_for = [&](const fs::path& out) {
    return std::vector<std::string>{"pipeline", "--config", (root / "kill.conf").string(), "--data",
                                    (root / "data").string(), "--out", out.string()};
  };

  // The uninterrupted run, and how long it takes: kills are drawn over [0.05 s, that time].
  const auto t0 = std::chrono::steady_clock::now();
  const Outcome full = run_and_kill_after(args_for(root / "full"), 600, root / "full.log");
  const double full_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(full.finished && full.status == 0) << read_file(root / "full.log");

  const char* rounds_env = std::getenv("EFFNET_KILL_ROUNDS");
  const int rounds = rounds_env ? std::max(1, std::atoi(rounds_env)) : 1;
  const uint32_t seed = kill_seed();
  std::mt19937 rng(seed);
  // Short delays land in start-up, loading and the first checkpoint writes; the longest ones let a
  // run finish a stage, so that every round ends.
  std::uniform_real_distribution<double> delay(0.05, std::max(0.5, full_seconds / 4));
  int kills = 0, kills_during_writes = 0, resumes = 0;
  for (int round = 0; round < rounds; ++round) {
    const fs::path out = root / ("killed" + std::to_string(round));
    const fs::path log = root / ("killed" + std::to_string(round) + ".log");
    bool done = false;
    for (int attempt = 0; attempt < 1000 && !done; ++attempt) {
      const auto tmp_before = temporary_files(out);
      const Outcome o = run_and_kill_after(args_for(out), delay(rng), log);
      if (o.finished) {
        ASSERT_EQ(o.status, 0) << "round " << round << ", attempt " << attempt << " (seed " << seed << "):\n"
                               << read_file(log);
        done = true;
        break;
      }
      ++kills;
      kills_during_writes += interrupted_a_write(tmp_before, temporary_files(out));
      const std::string damaged = damaged_files(out);
      ASSERT_TRUE(damaged.empty()) << "after kill " << kills << " (seed " << seed << "):" << damaged;
    }
    ASSERT_TRUE(done) << "round " << round << " did not finish after 1000 runs (seed " << seed << ")";
    const std::string text = read_file(log);
    for (size_t p = text.find("resuming from"); p != std::string::npos; p = text.find("resuming from", p + 1)) ++resumes;

    for (const char* file : {"finetune/best.h5", "finetune/last.h5", "retrain/best.h5", "retrain/last.h5"})
      expect_same_tensors(root / "full" / file, out / file);
    EXPECT_EQ(read_file(root / "full" / "pseudolabel" / "pseudo_labels.csv"),
              read_file(out / "pseudolabel" / "pseudo_labels.csv"));
    EXPECT_EQ(read_file(root / "full" / "predict" / "predictions.csv"), read_file(out / "predict" / "predictions.csv"));
    for (const char* record : {"finetune/done.txt", "retrain/done.txt"}) {
      std::string killed = without_timings(read_file(out / record));
      for (size_t p; (p = killed.find(out.string())) != std::string::npos;)  // the folder's name aside
        killed.replace(p, out.string().size(), (root / "full").string());
      EXPECT_EQ(without_timings(read_file(root / "full" / record)), killed)
          << record << ": the stage record, epoch history included, is that of one uninterrupted run";
    }
    fs::remove_all(out);
  }
  std::printf("kill test: %d rounds, %d kills (%d during a file write), %d resumes from a checkpoint; "
              "uninterrupted run %.1f s; seed %u\n",
              rounds, kills, kills_during_writes, resumes, full_seconds, seed);
  RecordProperty("kills", kills);
  RecordProperty("kills_during_writes", kills_during_writes);
  EXPECT_GT(kills, 0);
}
