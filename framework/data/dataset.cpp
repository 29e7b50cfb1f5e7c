// Dataset loading (see dataset.h): list the folder, decode every image on a few threads, then
// either fail on the first bad file (in file order, so the message does not depend on threads)
// or leave the bad ones out and list them.
#include "framework/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "framework/core/error.h"
#include "framework/core/parse_number.h"
#include "framework/core/input_file.h"
#include "framework/data/csv.h"
#include "framework/data/parallel.h"
#include "framework/data/transforms.h"

namespace fs = std::filesystem;

namespace effnet::data {
namespace {

struct Entry {
  std::string rel;   // name relative to the dataset root
  int64_t label;
  std::string bad;   // non-empty: not an image file for a reason known before decoding
};

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

void check_folder(const std::string& dir, const char* what) {
  std::error_code ec;
  EFFNET_CHECK(fs::exists(dir, ec), what, " folder ", dir, " does not exist");
  EFFNET_CHECK(fs::is_directory(dir, ec), what, " ", dir, " is not a folder");
}

// Non-hidden entries of a folder, sorted by name.
std::vector<fs::directory_entry> list_sorted(const std::string& dir) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!hidden(it->path())) out.push_back(*it);
  EFFNET_CHECK(!ec, "cannot list folder ", dir, ": ", ec.message());
  std::sort(out.begin(), out.end(),
            [](const fs::directory_entry& a, const fs::directory_entry& b) { return a.path().filename() < b.path().filename(); });
  return out;
}

// The reason without the "file:line: <path>: " prefix that effnet::Error and decode_image add.
std::string reason_of(const std::string& what, const std::string& path) {
  size_t at = what.find(path + ": ");
  return at == std::string::npos ? what : what.substr(at + path.size() + 2);
}

// Decodes the entries into ds (files, images, labels), applying skip_bad_images.
void decode_into(Dataset& ds, const std::vector<Entry>& entries, const LoadOptions& opts) {
  const size_t n = entries.size();
  std::vector<std::shared_ptr<const Image>> images(n);
  std::vector<std::string> errors(n);
  const bool resize = opts.resize_height > 0 && opts.resize_width > 0;
  EFFNET_CHECK(opts.resize_height >= 0 && opts.resize_width >= 0 && (opts.resize_height > 0) == (opts.resize_width > 0),
               "load: resize size must be two positive numbers or none, got ", opts.resize_height, "x",
               opts.resize_width);
  parallel_for(int64_t(n), file_threads(opts.threads), [&](int64_t i) {
    const Entry& e = entries[size_t(i)];
    const std::string path = (fs::path(ds.root) / e.rel).string();
    if (!e.bad.empty()) {
      errors[size_t(i)] = e.bad;
      return;
    }
    try {
      Image img = decode_image(path);
      if (resize && (img.height != opts.resize_height || img.width != opts.resize_width))
        img = resize_image(img, opts.resize_height, opts.resize_width);
      images[size_t(i)] = std::make_shared<const Image>(std::move(img));
    } catch (const std::exception& ex) {
      errors[size_t(i)] = reason_of(ex.what(), path);
    }
  });
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += !errors[i].empty();
  for (size_t i = 0; i < n; ++i) {
    const std::string path = (fs::path(ds.root) / entries[i].rel).string();
    if (!errors[i].empty()) {
      if (!opts.skip_bad_images)
        EFFNET_THROW(path, ": ", errors[i],
                     bad > 1 ? " (and " + std::to_string(bad - 1) + " more bad files in " + ds.root + ")" : "",
                     "; set skip_bad_images (--skip-bad-images) to leave bad files out");
      ds.skipped.push_back({path, entries[i].rel, errors[i]});
      continue;
    }
    ds.files.push_back(entries[i].rel);
    ds.images.push_back(std::move(images[i]));
    ds.labels.push_back(entries[i].label);
  }
}

// Flat folder: every non-hidden entry should be an image file.
std::vector<Entry> flat_entries(const std::string& dir) {
  std::vector<Entry> entries;
  for (const fs::directory_entry& e : list_sorted(dir)) {
    std::error_code ec;
    entries.push_back({e.path().filename().string(), -1,
                       e.is_directory(ec) ? "is a folder, expected an image file" : ""});
  }
  EFFNET_CHECK(!entries.empty(), "image folder ", dir, " is empty");
  return entries;
}

std::string trim_cr(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) out.push_back(field);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

}  // namespace

bool Dataset::labeled() const {
  return std::all_of(labels.begin(), labels.end(), [](int64_t l) { return l >= 0; });
}

Dataset load_labeled_tree(const std::string& root, const LoadOptions& opts) {
  check_folder(root, "labeled dataset");
  Dataset ds;
  ds.root = root;
  std::vector<std::string> found;
  std::vector<Entry> stray;  // files at the root, where only class folders belong
  for (const fs::directory_entry& e : list_sorted(root)) {
    std::error_code ec;
    if (e.is_directory(ec)) found.push_back(e.path().filename().string());
    else stray.push_back({e.path().filename().string(), -1, "not a class folder (a labeled tree holds <class>/<file>)"});
  }
  if (opts.classes.empty()) {
    ds.classes = found;  // already sorted
  } else {
    ds.classes = opts.classes;
    for (const std::string& c : opts.classes)
      EFFNET_CHECK(std::find(found.begin(), found.end(), c) != found.end(), "class folder ",
                   (fs::path(root) / c).string(), " is missing");
    for (const std::string& f : found)
      EFFNET_CHECK(std::find(opts.classes.begin(), opts.classes.end(), f) != opts.classes.end(), "unexpected folder ",
                   (fs::path(root) / f).string(), ": not one of the ", opts.classes.size(), " classes");
  }
  EFFNET_CHECK(!ds.classes.empty(), "labeled dataset folder ", root, " has no class folders");

  std::vector<Entry> entries = stray;
  for (size_t c = 0; c < ds.classes.size(); ++c) {
    const std::string dir = (fs::path(root) / ds.classes[c]).string();
    size_t before = entries.size();
    for (const fs::directory_entry& e : list_sorted(dir)) {
      std::error_code ec;
      entries.push_back({(fs::path(ds.classes[c]) / e.path().filename()).string(), int64_t(c),
                         e.is_directory(ec) ? "is a folder, expected an image file" : ""});
    }
    EFFNET_CHECK(entries.size() > before, "class folder ", dir, " is empty");
  }
  decode_into(ds, entries, opts);
  std::vector<int64_t> per_class(ds.classes.size(), 0);
  for (int64_t l : ds.labels) per_class[size_t(l)]++;
  for (size_t c = 0; c < ds.classes.size(); ++c)
    EFFNET_CHECK(per_class[c] > 0, "class folder ", (fs::path(root) / ds.classes[c]).string(),
                 " has no readable images");
  return ds;
}

Dataset load_unlabeled_folder(const std::string& dir, const LoadOptions& opts) {
  check_folder(dir, "image");
  Dataset ds;
  ds.root = dir;
  decode_into(ds, flat_entries(dir), opts);
  EFFNET_CHECK(ds.size() > 0, "image folder ", dir, " has no readable images");
  return ds;
}

Dataset load_test_folder(const std::string& dir, const std::string& labels_csv, const LoadOptions& opts) {
  Dataset ds = load_unlabeled_folder(dir, opts);
  if (labels_csv.empty()) return ds;
  std::map<std::string, int64_t> label_of;
  for (const LabelRow& r : read_label_csv(labels_csv)) label_of[r.file] = r.label;
  for (size_t i = 0; i < ds.files.size(); ++i) {
    auto it = label_of.find(ds.files[i]);
    EFFNET_CHECK(it != label_of.end(), labels_csv, ": no label for image ", ds.files[i]);
    ds.labels[i] = it->second;
    label_of.erase(it);
  }
  for (const SkippedFile& s : ds.skipped) label_of.erase(s.file);
  EFFNET_CHECK(label_of.empty(), labels_csv, ": ", label_of.size(), " labelled files are not in ", dir,
               label_of.empty() ? "" : " (first: " + label_of.begin()->first + ")");
  return ds;
}

// ---- name lists -------------------------------------------------------------------------------

std::vector<LabelRow> read_label_csv(const std::string& path) {
  std::istringstream in(read_input_text(path, "label list"));
  std::string line;
  EFFNET_CHECK(bool(std::getline(in, line)), path, ": empty file, expected a header 'file,label'");
  line = trim_cr(line);
  EFFNET_CHECK(line == "file,label" || line == "file,label,confidence", path,
               ": header must be 'file,label' or 'file,label,confidence', got '", line, "'");
  const size_t fields = line == "file,label" ? 2 : 3;
  std::vector<LabelRow> rows;
  std::map<std::string, size_t> seen;
  for (size_t lineno = 2; std::getline(in, line); ++lineno) {
    line = trim_cr(line);
    if (line.empty()) continue;
    std::vector<std::string> f = split_commas(line);
    EFFNET_CHECK(f.size() == fields, path, ":", lineno, ": expected ", fields, " comma-separated fields, got '", line, "'");
    LabelRow r;
    r.file = f[0];
    EFFNET_CHECK(!r.file.empty(), path, ":", lineno, ": empty file name");
    const std::optional<int64_t> label = parse_int64(f[1]);
    EFFNET_CHECK(label, path, ":", lineno, ": label '", f[1], "' is not an integer in '", line, "'");
    r.label = *label;
    if (fields == 3) {
      const std::optional<double> confidence = parse_double(f[2]);
      EFFNET_CHECK(confidence, path, ":", lineno, ": confidence '", f[2], "' is not a number in '", line, "'");
      r.confidence = *confidence;
    }
    EFFNET_CHECK(r.label >= 0, path, ":", lineno, ": negative label in '", line, "'");
    EFFNET_CHECK(std::isfinite(r.confidence), path, ":", lineno, ": confidence is not finite in '", line, "'");
    auto [it, fresh] = seen.emplace(r.file, lineno);
    EFFNET_CHECK(fresh, path, ":", lineno, ": ", r.file, " is listed twice (first on line ", it->second, ")");
    rows.push_back(std::move(r));
  }
  return rows;
}

void write_label_csv(const std::string& path, const std::vector<LabelRow>& rows, bool with_confidence) {
  std::vector<CsvRow> cells;
  cells.reserve(rows.size());
  char num[64];
  for (const LabelRow& r : rows) {
    // read_label_csv splits at commas and knows no quoting, so such names could not be read back.
    EFFNET_CHECK(r.file.find_first_of(",\"\n\r") == std::string::npos && !r.file.empty(), path,
                 ": file name '", r.file, "' cannot be written to a CSV list");
    cells.push_back({r.file, std::to_string(r.label)});
    if (with_confidence) {
      std::snprintf(num, sizeof(num), "%.9g", r.confidence);
      cells.back().push_back(num);
    }
  }
  write_csv(path, with_confidence ? CsvRow{"file", "label", "confidence"} : CsvRow{"file", "label"}, cells);
}

std::vector<std::string> read_class_names(const std::string& path) {
  std::istringstream in(read_input_text(path, "class list"));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    line = trim_cr(line);
    if (line.empty()) continue;
    EFFNET_CHECK(std::find(names.begin(), names.end(), line) == names.end(), path, ": class ", line, " listed twice");
    names.push_back(line);
  }
  EFFNET_CHECK(!names.empty(), path, ": no class names");
  return names;
}

void write_class_names(const std::string& path, const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += n + "\n";
  write_file_atomic(path, out.data(), out.size());
}

// ---- combining --------------------------------------------------------------------------------

std::vector<int64_t> indices_of(const Dataset& ds, const std::vector<std::string>& files) {
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < ds.files.size(); ++i) index.emplace(ds.files[i], int64_t(i));
  std::vector<int64_t> out;
  out.reserve(files.size());
  for (const std::string& f : files) {
    auto it = index.find(f);
    EFFNET_CHECK(it != index.end(), "file ", f, " is not in the dataset at ", ds.root);
    out.push_back(it->second);
  }
  return out;
}

Dataset subset(const Dataset& ds, const std::vector<int64_t>& indices) {
  Dataset out;
  out.root = ds.root;
  out.classes = ds.classes;
  out.files.reserve(indices.size());
  out.images.reserve(indices.size());
  out.labels.reserve(indices.size());
  for (int64_t i : indices) {
    EFFNET_CHECK(i >= 0 && i < ds.size(), "subset: index ", i, " outside the ", ds.size(), " samples of ", ds.root);
    out.files.push_back(ds.files[size_t(i)]);
    out.images.push_back(ds.images[size_t(i)]);
    out.labels.push_back(ds.labels[size_t(i)]);
  }
  return out;
}

Dataset relabel(const Dataset& ds, const std::vector<LabelRow>& rows) {
  std::vector<std::string> names;
  names.reserve(rows.size());
  for (const LabelRow& r : rows) {
    EFFNET_CHECK(ds.classes.empty() || r.label < int64_t(ds.classes.size()), "relabel: label ", r.label, " of ",
                 r.file, " is outside the ", ds.classes.size(), " classes");
    names.push_back(r.file);
  }
  Dataset out = subset(ds, indices_of(ds, names));
  for (size_t k = 0; k < rows.size(); ++k) out.labels[k] = rows[k].label;
  return out;
}

Dataset concat(const Dataset& a, const Dataset& b) {
  EFFNET_CHECK(a.classes.empty() || b.classes.empty() || a.classes == b.classes, "concat: the datasets at ", a.root,
               " and ", b.root, " have different class lists");
  Dataset out = a;
  if (out.classes.empty()) out.classes = b.classes;
  out.files.insert(out.files.end(), b.files.begin(), b.files.end());
  out.images.insert(out.images.end(), b.images.begin(), b.images.end());
  out.labels.insert(out.labels.end(), b.labels.begin(), b.labels.end());
  out.skipped.insert(out.skipped.end(), b.skipped.begin(), b.skipped.end());
  return out;
}

}  // namespace effnet::data
