// Fashion-MNIST preparation (see fashion_mnist.h): read the IDX files through zlib, choose the
// reference's labeled split, write grey PNGs on several threads, then the CSV lists, then
// .complete.
#include "framework/data/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "framework/core/error.h"
#include "framework/core/input_file.h"
#include "framework/data/dataset.h"
#include "framework/data/image.h"
#include "framework/data/numpy_random.h"
#include "framework/data/parallel.h"

namespace fs = std::filesystem;

namespace effnet::data {
namespace {

std::vector<uint8_t> read_gzip(const std::string& path) {
  check_input_file(path, "Fashion-MNIST file");  // gzopen would block on a FIFO
  gzFile f = gzopen(path.c_str(), "rb");
  EFFNET_CHECK(f != nullptr, "cannot open ", path);
  std::vector<uint8_t> out;
  uint8_t chunk[1 << 16];
  for (;;) {
    int n = gzread(f, chunk, sizeof(chunk));
    if (n < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      gzclose(f);
      EFFNET_THROW(path, ": cannot decompress: ", msg);
    }
    if (n == 0) break;
    out.insert(out.end(), chunk, chunk + n);
  }
  int code = 0;
  const char* msg = gzerror(f, &code);
  std::string err = code != Z_OK && code != Z_STREAM_END ? msg : "";
  gzclose(f);
  EFFNET_CHECK(err.empty(), path, ": cannot decompress: ", err);
  return out;
}

std::string file_name(int64_t idx) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%05lld.png", static_cast<long long>(idx));
  return buf;
}

std::string settings_line(const FashionMnistOptions& o) {
  std::ostringstream os;
  os << "fashion-mnist layout=1 labels-per-class=" << o.labels_per_class << " seed=" << o.seed << "\n";
  return os.str();
}

void make_dir(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  EFFNET_CHECK(!ec, "cannot create folder ", p.string(), ": ", ec.message());
}

std::string read_text(const fs::path& p) { return read_input_file(p.string(), "marker"); }

struct Split {
  IdxArray images;
  std::vector<uint8_t> labels;
};

Split read_split(const std::string& dir, const std::string& prefix) {
  Split s;
  s.images = read_idx((fs::path(dir) / (prefix + "-images-idx3-ubyte.gz")).string());
  IdxArray labels = read_idx((fs::path(dir) / (prefix + "-labels-idx1-ubyte.gz")).string());
  EFFNET_CHECK(s.images.dims.size() == 3 && s.images.dims[1] == 28 && s.images.dims[2] == 28, dir, "/", prefix,
               "-images-idx3-ubyte.gz: expected N x 28 x 28 images");
  EFFNET_CHECK(labels.dims.size() == 1 && labels.dims[0] == s.images.dims[0], dir, "/", prefix,
               "-labels-idx1-ubyte.gz: expected ", s.images.dims[0], " labels");
  for (uint8_t l : labels.data) EFFNET_CHECK(l < 10, dir, "/", prefix, "-labels-idx1-ubyte.gz: label ", int(l), " >= 10");
  s.labels = std::move(labels.data);
  return s;
}

// Writes image `idx` of `images` as grey PNG `path`.
void write_sample(const IdxArray& images, int64_t idx, const fs::path& path) {
  const int64_t n = images.dims[1] * images.dims[2];
  // 70,000 files: each is renamed into place whole, and the file system is synced once before
  // .complete marks the folder finished.
  write_png(path.string(), int(images.dims[2]), int(images.dims[1]), 1, images.data.data() + idx * n,
            Durability::batched);
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = read_gzip(path);
  EFFNET_CHECK(bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08, path,
               ": not an unsigned-byte IDX file (magic 00 00 08 <ndim>)");
  const int ndim = bytes[3];
  EFFNET_CHECK(ndim >= 1 && bytes.size() >= size_t(4 + 4 * ndim), path, ": truncated IDX header");
  IdxArray a;
  int64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    const uint8_t* p = &bytes[size_t(4 + 4 * d)];
    int64_t v = (int64_t(p[0]) << 24) | (int64_t(p[1]) << 16) | (int64_t(p[2]) << 8) | int64_t(p[3]);
    a.dims.push_back(v);
    count *= v;
  }
  const size_t header = size_t(4 + 4 * ndim);
  EFFNET_CHECK(bytes.size() - header == size_t(count), path, ": IDX header promises ", count, " bytes of data, file has ",
               bytes.size() - header);
  a.data.assign(bytes.begin() + std::ptrdiff_t(header), bytes.end());
  return a;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names{"T-shirt_top", "Trouser", "Pullover", "Dress",   "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",     "Ankle_boot"};
  return names;
}

std::vector<int64_t> labeled_split(const std::vector<uint8_t>& labels, int64_t per_class, uint32_t seed,
                                   int num_classes) {
  NumpyRandomState rng(seed);
  std::vector<int64_t> lab;
  for (int c = 0; c < num_classes; ++c) {
    std::vector<int64_t> members;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == c) members.push_back(int64_t(i));
    EFFNET_CHECK(int64_t(members.size()) >= per_class, "labeled split: class ", c, " has ", members.size(),
                 " images, fewer than the ", per_class, " asked for");
    std::vector<int64_t> perm = rng.permutation(std::move(members));
    lab.insert(lab.end(), perm.begin(), perm.begin() + per_class);
  }
  rng.shuffle(lab);
  return lab;
}

PrepareSummary prepare_fashion_mnist(const FashionMnistOptions& opts) {
  EFFNET_CHECK(!opts.out.empty(), "prepare fashion-mnist: no output folder given");
  EFFNET_CHECK(opts.labels_per_class > 0, "prepare fashion-mnist: labels per class must be positive, got ",
               opts.labels_per_class);
  const fs::path out(opts.out);
  const std::string settings = settings_line(opts);
  PrepareSummary summary;
  std::error_code ec;
  if (fs::exists(out / ".complete", ec)) {
    std::string done = read_text(out / ".complete");
    EFFNET_CHECK(done == settings, opts.out, " was prepared with other settings (", done.substr(0, done.size() - 1),
                 "); remove it or choose another --out");
    summary.already_complete = true;
    return summary;
  }
  if (fs::exists(out, ec)) {
    EFFNET_CHECK(fs::is_directory(out, ec), opts.out, " exists and is not a folder");
    EFFNET_CHECK(fs::is_empty(out, ec) || fs::exists(out / ".preparing", ec), opts.out,
                 " exists, is not empty and was not written by effnet prepare; choose another --out");
  }
  make_dir(out);
  write_file_atomic((out / ".preparing").string(), settings);
  // An interrupted earlier run may have left files of another split: start from clean folders.
  for (const char* sub : {"labeled", "unlabeled", "test"}) {
    fs::remove_all(out / sub, ec);
    EFFNET_CHECK(!ec, "cannot clear ", (out / sub).string(), ": ", ec.message());
  }

  Split train = read_split(opts.source, "train"), test = read_split(opts.source, "t10k");
  const std::vector<std::string>& classes = fashion_mnist_classes();
  const std::vector<int64_t> lab = labeled_split(train.labels, opts.labels_per_class, opts.seed);
  std::vector<bool> is_labeled(train.labels.size(), false);
  for (int64_t i : lab) is_labeled[size_t(i)] = true;
  std::vector<int64_t> unl;
  for (size_t i = 0; i < train.labels.size(); ++i)
    if (!is_labeled[i]) unl.push_back(int64_t(i));

  for (const std::string& c : classes) make_dir(out / "labeled" / c);
  make_dir(out / "unlabeled");
  make_dir(out / "test");

  // One job list over the three folders, so that the threads stay busy across them.
  const int64_t n_lab = int64_t(lab.size()), n_unl = int64_t(unl.size()), n_test = int64_t(test.labels.size());
  parallel_for(n_lab + n_unl + n_test, file_threads(opts.threads), [&](int64_t k) {
    if (k < n_lab) {
      const int64_t idx = lab[size_t(k)];
      write_sample(train.images, idx, out / "labeled" / classes[train.labels[size_t(idx)]] / file_name(idx));
    } else if (k < n_lab + n_unl) {
      const int64_t idx = unl[size_t(k - n_lab)];
      write_sample(train.images, idx, out / "unlabeled" / file_name(idx));
    } else {
      const int64_t idx = k - n_lab - n_unl;
      write_sample(test.images, idx, out / "test" / file_name(idx));
    }
  });

  std::vector<LabelRow> order, unl_rows, test_rows;
  for (int64_t idx : lab) {
    const int64_t l = train.labels[size_t(idx)];
    order.push_back({classes[size_t(l)] + "/" + file_name(idx), l, 1.0});
  }
  for (int64_t idx : unl) unl_rows.push_back({file_name(idx), train.labels[size_t(idx)], 1.0});
  for (int64_t idx = 0; idx < n_test; ++idx) test_rows.push_back({file_name(idx), test.labels[size_t(idx)], 1.0});
  write_label_csv((out / "labeled_order.csv").string(), order);
  write_label_csv((out / "unlabeled_labels.csv").string(), unl_rows);
  write_label_csv((out / "test_labels.csv").string(), test_rows);
  write_class_names((out / "classes.txt").string(), classes);
  sync_file_system(out.string());
  write_file_atomic((out / ".complete").string(), settings);
  fs::remove(out / ".preparing", ec);

  summary.labeled = n_lab;
  summary.unlabeled = n_unl;
  summary.test = n_test;
  return summary;
}

}  // namespace effnet::data
