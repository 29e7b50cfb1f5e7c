// What every fuzz target of tests/fuzz shares: the one outcome bad input may have (an
// effnet::Error with a message; anything else, a crash, a sanitizer report or another exception
// type, is a finding), and scratch files for the loaders that read from a path.
// Each target defines LLVMFuzzerTestOneInput and effnet_fuzz_write_seeds (its seed corpus); libFuzzer drives it in a fuzz build (clang,
// scripts/fuzz.sh), replay_main.cpp replays a corpus through it in every build (ctest fuzz_replay_*).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "framework/core/error.h"

namespace effnet::fuzz {

// A file of this process under /dev/shm (else $TMPDIR or /tmp) named `name`, holding `bytes`;
// the same path every call, so that a long fuzzing run does not fill the disk.
std::string scratch_file(const std::string& name, const uint8_t* bytes, size_t size);
// A folder of this process for loaders that take a folder (stage records).
std::string scratch_dir(const std::string& name);

// For the seed writers (effnet_fuzz_write_seeds of each target).
void write_seed(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

[[noreturn]] void abort_with(const char* what, const std::string& message);

// True in fuzz_replay_X (replay_main.cpp), false under libFuzzer: a target may leave out of its
// fuzzing inputs that are known to reach code effnet does not own, and still replay the regression
// inputs of that kind (fuzz_hdf5).
bool replaying();
void set_replaying();

// Runs `load` and accepts only a normal return or an effnet::Error whose message is not empty;
// any other exception aborts, so that libFuzzer (or the replay) reports it with the input.
template <class Load>
void expect_clear_error(Load&& load) {
  try {
    load();
  } catch (const effnet::Error& e) {
    if (e.message().empty()) abort_with("effnet::Error with an empty message", "");
  } catch (const std::exception& e) {
    abort_with("an exception other than effnet::Error", e.what());
  }
}

}  // namespace effnet::fuzz

// Each target's seed inputs, written into `dir` (fuzz_replay_X --seeds DIR).
void effnet_fuzz_write_seeds(const std::string& dir);
