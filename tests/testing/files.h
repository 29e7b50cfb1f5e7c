// Helpers for tests of code that reads and writes files: a fresh folder per test beside the test
// binary, and whole files read or written as bytes.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace effnet::testing {

// An empty folder for the running test, <test binary's folder>/<group>/<Suite.Name>, emptied
// first, so that a failed run leaves its files to look at and the next run starts clean. The group
// defaults to "<test binary's name>_tmp" (test_data_tmp for test_data).
inline std::filesystem::path test_temp_dir(std::string group = "") {
  namespace fs = std::filesystem;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const bool known = !ec && exe.has_parent_path();
  const fs::path base = known ? exe.parent_path() : fs::current_path();
  if (group.empty()) group = (known ? exe.filename().string() : std::string("test")) + "_tmp";
  fs::path p = base / group / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// The bytes of a file ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes `bytes` as the whole file.
inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

}  // namespace effnet::testing
