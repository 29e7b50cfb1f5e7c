// Replays corpus files through a fuzz target's LLVMFuzzerTestOneInput, for builds without
// libFuzzer (gcc, the sanitizer build): `fuzz_replay_X DIR...` runs every file under each DIR, in
// name order, and fails when there is none (an empty corpus would pass without checking anything).
// `fuzz_replay_X --seeds DIR` writes the target's seed inputs into DIR instead.
// A finding aborts the process, and the file being replayed is printed first.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_input.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--seeds") {
    fs::create_directories(argv[2]);
    effnet_fuzz_write_seeds(argv[2]);
    return 0;
  }
  effnet::fuzz::set_replaying();
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (!fs::is_directory(argv[i])) {
      std::fprintf(stderr, "%s: not a folder: %s\n", argv[0], argv[i]);
      return 2;
    }
    for (const auto& e : fs::recursive_directory_iterator(argv[i]))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "%s: no corpus files to replay\n", argv[0]);
    return 1;
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", f.string().c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: replayed %zu inputs, no finding\n", argv[0], files.size());
  return 0;
}
