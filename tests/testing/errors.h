// Helpers for tests of error messages and of code that writes files: the message an
// effnet::Error carries, an expectation that it names given parts, and a fresh folder per test.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "framework/core/error.h"

namespace effnet::testing {

// What an effnet::Error thrown by f says, or "(no error)" when f returns normally.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// An empty folder for the running test, <test binary's folder>/<group>/<Suite.Name>, emptied
// first, so that a failed run leaves its files to look at and the next run starts clean.
inline std::filesystem::path test_temp_dir(const std::string& group) {
  namespace fs = std::filesystem;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::error_code ec;
  fs::path base = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec || base.empty()) base = fs::current_path();
  fs::path p = base / group / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

}  // namespace effnet::testing

// The statement throws an effnet::Error whose message contains every one of the given strings.
#define EXPECT_ERROR_HAS(stmt, ...)                                                                     \
  do {                                                                                                 \
    const std::string _msg = ::effnet::testing::error_of([&] { stmt; });                               \
    EXPECT_NE(_msg, "(no error)") << #stmt << " did not throw effnet::Error";                         \
    for (const std::string& _part : std::vector<std::string>{__VA_ARGS__})                             \
      EXPECT_NE(_msg.find(_part), std::string::npos) << "message: " << _msg << "\nlacks: " << _part;   \
  } while (0)
