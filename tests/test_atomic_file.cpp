// The durable atomic writer every file of the project goes through (framework/core/atomic_file.h):
// a file is replaced whole, a failed write reports the system's own reason and leaves the old file
// and no temporary behind, and a failing writer callback (the HDF5 case) loses nothing either.
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "framework/core/atomic_file.h"
#include "tests/testing/errors.h"
#include "tests/testing/files.h"

using namespace effnet;
using namespace effnet::testing;
namespace fs = std::filesystem;

TEST(AtomicFile, WritesAndReplacesWholeFiles) {
  const fs::path dir = test_temp_dir();
  const fs::path f = dir / "a.txt";
  write_file_atomic(f.string(), "first\n");
  EXPECT_EQ(read_file(f), "first\n");
  write_file_atomic(f.string(), std::string(100000, 'x'));
  EXPECT_EQ(read_file(f), std::string(100000, 'x'));
  write_file_atomic(f.string(), "", 0);
  EXPECT_EQ(read_file(f), "");
  EXPECT_FALSE(fs::exists(dir / "a.txt.tmp"));
  // A batch of files written without their own fsyncs, then made durable at once.
  for (int i = 0; i < 3; ++i) write_file_atomic((dir / std::to_string(i)).string(), "b", Durability::batched);
  sync_file_system(dir.string());
  EXPECT_EQ(read_file(dir / "2"), "b");
  EXPECT_ERROR_HAS(sync_file_system((dir / "nowhere").string()), "nowhere", "No such file or directory");
}

TEST(AtomicFile, MissingFolderNamesTheFileAndTheReason) {
  const fs::path dir = test_temp_dir();
  const fs::path f = dir / "no" / "such" / "x.csv";
  EXPECT_ERROR_HAS(write_file_atomic(f.string(), "data"), "x.csv", "cannot write", "No such file or directory");
  EXPECT_FALSE(fs::exists(dir / "no"));
}

// A write that the file system refuses part-way (here the file-size limit, as a full disk would):
// the error is write()'s own, the old file is intact and the temporary file is gone.
TEST(AtomicFile, FailedWriteKeepsTheOldFileAndReportsTheRealError) {
  const fs::path dir = test_temp_dir();
  const fs::path f = dir / "weights.bin";
  write_file_atomic(f.string(), "the old contents");
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  auto old_handler = signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of the signal
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string message = error_of([&] { write_file_atomic(f.string(), std::string(1 << 20, 'y')); });
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find("weights.bin: cannot write: File too large"), std::string::npos) << message;
  EXPECT_EQ(read_file(f), "the old contents");
  EXPECT_FALSE(fs::exists(dir / "weights.bin.tmp"));
}

