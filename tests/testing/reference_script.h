// Reference files that Python scripts make with other frameworks (PyTorch, Keras) for the
// cross-framework tests, once per build tree: where the sources are, and running a script with its
// output kept in a log.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "tests/testing/files.h"

namespace effnet::testing {

// The source tree (ctest sets EFFNET_SOURCE_DIR; "." when run by hand from it).
inline std::string source_dir() {
  const char* src = std::getenv("EFFNET_SOURCE_DIR");
  return src ? src : ".";
}

// Runs `command` with stdout and stderr in `log`. "" when it succeeded; the script's own words when
// it exited 77 (skipped: "SKIP: <package> is missing"); "FAIL: ..." with the log otherwise.
inline std::string run_reference_script(const std::string& command, const std::string& log) {
  const int status = std::system((command + " >" + log + " 2>&1").c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  const std::string said = read_file(log);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return said;
  return "FAIL: " + command + " failed (" + log + "):\n" + said;
}

}  // namespace effnet::testing
