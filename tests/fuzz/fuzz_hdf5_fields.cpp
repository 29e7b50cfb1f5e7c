// Fuzz target: effnet's own checks of what a weights file or checkpoint holds, behind HDF5's
// parser and the checksum. The input does not become the file's bytes (fuzz_hdf5 does that); it
// drives edits of a file effnet wrote: each attribute (root, /optimizer, /training) kept, dropped
// or replaced by a value of another kind or range; each dataset kept, dropped, reshaped, retyped
// or refilled (NaN and Inf among the values); unexpected datasets added. The edited file gets a
// fresh checksum header and is loaded as weights and as a checkpoint. Besides the one outcome bad
// input may have (effnet::Error), a failed load must leave the model and the optimizer unchanged.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "framework/core/creation.h"
#include "small_net.h"
#include "weights/hdf5_integrity.h"

using namespace effnet;

namespace {

// The input, read as a sequence of small choices; 0 once it is used up (so an input's tail keeps
// the rest of the file as effnet wrote it).
class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t bits64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | byte();
    return v;
  }
  double number() {
    static const double kSpecial[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300, 4096, 4097, 1e6, 1e7,
                                      std::numeric_limits<double>::quiet_NaN(),
                                      std::numeric_limits<double>::infinity(),
                                      -std::numeric_limits<double>::infinity()};
    const uint8_t k = byte();
    if (k < 2 * std::size(kSpecial)) return kSpecial[k % std::size(kSpecial)];
    double v;
    const uint64_t b = bits64();
    std::memcpy(&v, &b, sizeof(v));
    return v;
  }
  int64_t integer() {
    static const int64_t kSpecial[] = {0, 1, -1, 2, 3, 4, 4096, 4097, 1000000, 1000001,
                                       std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
    const uint8_t k = byte();
    return k < 2 * std::size(kSpecial) ? kSpecial[k % std::size(kSpecial)] : int64_t(bits64());
  }
  std::string text() {
    static const char* kWords[] = {"", "b0", "b7", "lite0", "b9", "swish", "relu6", "gelu", "same", "symmetric",
                                   "valid", "effnet-weights", "Adam", "SGD", "AdamW", "finetune",
                                   "r1_k3_s11_e1_i32_o16_se0.25", "model = b0\nbatch = 4\n"};
    const uint8_t k = byte();
    if (k < 2 * std::size(kWords)) return kWords[k % std::size(kWords)];
    std::string s(byte() % 24, '\0');
    for (char& c : s) c = char(byte());
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_, pos_ = 0;
};

void drop_attr(h5::File& f, const std::string& name, const std::string& object) {
  if (f.has_attr(name, object)) H5Adelete_by_name(f.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
}

// One attribute: kept (most often, so that a file stays mostly valid), dropped, or replaced.
void edit_attr(h5::File& f, Choices& c, const std::string& name, const std::string& object) {
  switch (c.byte() % 10) {
    case 6: drop_attr(f, name, object); break;
    case 7: f.set_attr(name, c.number(), object); break;
    case 8: f.set_attr(name, c.integer(), object); break;
    case 9:
      if (c.byte() % 2) {
        f.set_attr(name, c.text(), object);
      } else {
        std::vector<double> v(1 + c.byte() % 4);  // HDF5 cannot write an empty one
        for (double& x : v) x = c.number();
        f.set_attr(name, v, object);
      }
      break;
    default: break;
  }
}

// A tensor of `shape` and `dtype` filled from the input (special values among them).
Tensor filled(Choices& c, const Shape& shape, DType dtype) {
  Tensor t = zeros(shape, dtype);
  const uint8_t how = c.byte() % 4;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = how == 0 ? c.number() : how == 1 ? double(c.byte()) / 64 - 1 : 1.0;
    if (dtype == DType::Float32) t.data<float>()[i] = float(v);
    else if (dtype == DType::Float64) t.data<double>()[i] = v;
    else t.data<int64_t>()[i] = std::isfinite(v) && std::fabs(v) < 1e18 ? int64_t(v) : c.integer();
  }
  return t;
}

// One dataset: kept (most often), dropped, rewritten with another shape, type or values.
void edit_dataset(h5::File& f, Choices& c, const std::string& path) {
  const uint8_t action = c.byte() % 10;
  if (action < 6) return;
  const Shape shape = f.shape(path);
  H5Ldelete(f.id(), path.c_str(), H5P_DEFAULT);
  if (action == 6) return;
  Shape s = shape;
  if (action == 8) {
    s.assign(c.byte() % 5, 0);
    for (int64_t& d : s) d = c.byte() % 6;
  }
  static const DType kTypes[] = {DType::Float32, DType::Float64, DType::Int64};
  const DType dtype = action == 9 ? kTypes[c.byte() % 3] : DType::Float32;
  f.write(path, filled(c, s, dtype));
}

std::vector<std::string> in_group(const h5::File& f, const std::string& group) {
  std::vector<std::string> out;
  if (!f.has(group)) return out;
  for (const std::string& name : f.datasets(group)) out.push_back((group == "/" ? "/" : group + "/") + name);
  return out;
}

const char* const kRootAttrs[] = {"format", "format_version", "variant", "width", "depth", "resolution",
                                  "num_classes", "activation", "squeeze_excitation", "fix_stem_head", "padding",
                                  "bn_eps", "bn_momentum", "dropout", "drop_connect", "block_args",
                                  "input_mean", "input_std", "source"};
const char* const kOptimizerAttrs[] = {"type", "lr", "step_count"};
const char* const kTrainingAttrs[] = {"stage", "epoch", "step", "best_metric", "best_epoch",
                                      "epochs_without_improvement", "rng_seed", "rng_offset", "config"};

// The file: a weights file or a checkpoint (with or without optimizer state) as effnet writes it,
// edited as the input says, with a checksum header for its new bytes.
std::string edited_file(Choices& c) {
  const std::string base = fuzz::scratch_dir("fields") + "/base.h5";
  const uint8_t kind = c.byte() % 3;
  if (kind == 0) {
    fuzz::SmallNet net;
    save_weights(net, base, fuzz::small_meta());
  } else {
    fuzz::save_small_checkpoint(base, kind == 1);
  }
  // Edited without its header (the edits would not match it), which is added back at the end.
  const std::string written = fuzz::read_bytes(base);
  const std::string plain = written.substr(h5::kIntegrityBlock);
  const std::string edit = fuzz::scratch_file("edit.h5", reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
  {
    h5::File f = h5::File::open_for_update(edit);
    for (const char* a : kRootAttrs) edit_attr(f, c, a, "/");
    for (const auto& [group, attrs] : {std::pair{"/optimizer", &kOptimizerAttrs[0]}, std::pair{"/training", &kTrainingAttrs[0]}}) {
      if (!f.has(group)) continue;
      const size_t n = std::string(group) == "/optimizer" ? std::size(kOptimizerAttrs) : std::size(kTrainingAttrs);
      for (size_t i = 0; i < n; ++i) edit_attr(f, c, attrs[i], group);
    }
    for (const std::string& group : {std::string("/"), std::string("/optimizer")})
      for (const std::string& path : in_group(f, group)) edit_dataset(f, c, path);
    if (c.byte() % 8 == 7) {
      const std::string group = f.has("/optimizer") && c.byte() % 2 ? "/optimizer/" : "/";
      f.write(group + (c.byte() % 2 ? "exp_avg.9" : "extra.weight"), filled(c, Shape{int64_t(c.byte() % 5)}, DType::Float32));
    }
    f.close();
  }
  std::vector<unsigned char> bytes(h5::kIntegrityBlock);
  const std::string edited = fuzz::read_bytes(edit);
  bytes.insert(bytes.end(), edited.begin(), edited.end());
  h5::write_integrity_header(bytes);
  return fuzz::scratch_file("fuzz.h5", bytes.data(), bytes.size());
}

// The bytes of every tensor of a model or an optimizer's state.
std::string snapshot(const NamedTensors& state) {
  std::string out;
  for (const auto& [name, t] : state) {
    out += name;
    out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  }
  return out;
}

// EFFNET_FUZZ_VERBOSE=1 prints why each edit or load was refused (to see what a corpus reaches).
bool verbose() {
  static const bool on = std::getenv("EFFNET_FUZZ_VERBOSE") != nullptr;
  return on;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Choices c(data, size);
  std::string path;
  try {
    path = edited_file(c);
  } catch (const effnet::Error& e) {
    if (verbose()) std::fprintf(stderr, "edit refused: %s\n", e.what());
    return 0;  // an edit HDF5 refused (a dataset of a shape it cannot store): nothing to load
  }
  {
    fuzz::SmallNet net;
    const std::string before = snapshot(net.state());
    bool failed = false;
    fuzz::expect_clear_error([&] {
      try {
        load_weights(net, path);
      } catch (const effnet::Error& e) {
        failed = true;
        if (verbose()) std::fprintf(stderr, "refused: %s\n", e.what());
        throw;
      }
    });
    if (failed && snapshot(net.state()) != before) fuzz::abort_with("a failed load_weights changed the model", "");
  }
  fuzz::expect_nothing_open("load_weights");
  {
    fuzz::SmallNet net;
    Adam adam(net.trainable_parameters());
    const std::string before = snapshot(net.state()) + snapshot(adam.state());
    bool failed = false;
    fuzz::expect_clear_error([&] {
      try {
        load_checkpoint(path, net, &adam);
      } catch (const effnet::Error& e) {
        failed = true;
        if (verbose()) std::fprintf(stderr, "refused: %s\n", e.what());
        throw;
      }
    });
    if (failed && snapshot(net.state()) + snapshot(adam.state()) != before)
      fuzz::abort_with("a failed load_checkpoint changed the model or the optimizer", "");
  }
  fuzz::expect_nothing_open("load_checkpoint");
  return 0;
}

// Seeds: no edits (every byte 0) for each kind of file, and a few edits of each kind.
void effnet_fuzz_write_seeds(const std::string& dir) {
  for (int kind = 0; kind < 3; ++kind) {
    std::string unedited(1, char(kind));
    unedited += std::string(96, '\0');
    fuzz::write_seed(dir + "/unedited" + std::to_string(kind), unedited);
    std::string edits(1, char(kind));
    for (int i = 0; i < 96; ++i) edits += char(i % 7 == 3 ? 6 + i % 4 : 0);
    fuzz::write_seed(dir + "/edits" + std::to_string(kind), edits);
  }
}
