// Helpers for tests of error messages: the message an effnet::Error carries, and an expectation
// that it names given parts. (A fresh folder per test: files.h.)
#pragma once

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

}  // namespace effnet::testing

// The statement throws an effnet::Error whose message contains every one of the given strings.
#define EXPECT_ERROR_HAS(stmt, ...)                                                                     \
  do {                                                                                                 \
    const std::string _msg = ::effnet::testing::error_of([&] { stmt; });                               \
    EXPECT_NE(_msg, "(no error)") << #stmt << " did not throw effnet::Error";                         \
    for (const std::string& _part : std::vector<std::string>{__VA_ARGS__})                             \
      EXPECT_NE(_msg.find(_part), std::string::npos) << "message: " << _msg << "\nlacks: " << _part;   \
  } while (0)
