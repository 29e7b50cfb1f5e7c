// Scratch files, seed files and the abort of fuzz_input.h.
#include "fuzz_input.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace effnet::fuzz {
namespace {

// Never destroyed (a leaked pointer), so that the exit handler that removes the folder can still
// read it: a static fs::path would be destroyed before that handler runs.
const fs::path& scratch_root() {
  static const fs::path* root = [] {
    fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    auto* p = new fs::path(base / ("effnet-fuzz-" + std::to_string(getpid())));
    fs::create_directories(*p);
    // Gone at exit; a crash leaves it for the next run of the same pid to reuse.
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch_root(), ec);
    });
    return p;
  }();
  return *root;
}

}  // namespace

std::string scratch_file(const std::string& name, const uint8_t* bytes, size_t size) {
  const fs::path p = scratch_root() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes), std::streamsize(size));
  out.close();
  if (!out) abort_with("cannot write the scratch file", p.string());
  return p.string();
}

std::string scratch_dir(const std::string& name) {
  const fs::path p = scratch_root() / name;
  fs::create_directories(p);
  return p.string();
}

void write_seed(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) abort_with("cannot write the seed", path);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

namespace {
bool g_replaying = false;
}  // namespace

bool replaying() { return g_replaying; }
void set_replaying() { g_replaying = true; }

void abort_with(const char* what, const std::string& message) {
  std::fprintf(stderr, "fuzz finding: %s: %s\n", what, message.c_str());
  std::abort();
}

}  // namespace effnet::fuzz
