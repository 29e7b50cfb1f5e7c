// In-memory image datasets: every image is decoded once at load time and kept as 8-bit RGB
// (optionally resized then), with its file name and label. Three folder layouts:
//   labeled tree   <root>/<class>/<file>    class index = position in LoadOptions::classes, or in
//                                           the sorted folder names when that is empty
//   unlabeled      <dir>/<file>              flat; labels -1
//   test           <dir>/<file> + optional CSV "file,label"
// plus the name-list CSV files that travel between the apps (labels, pseudo-labels).
// Hidden entries (names starting with '.') are ignored. Anything else that is not a decodable
// image is an error naming the file, unless skip_bad_images is set: then it is left out and
// listed in Dataset::skipped for the caller to print.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/data/image.h"

namespace effnet::data {

struct SkippedFile {
  std::string path;    // as found on disk
  std::string file;    // relative to the dataset's root, as Dataset::files names files (and label lists do)
  std::string reason;  // the decoder's (or loader's) message
};

struct Dataset {
  std::string root;
  std::vector<std::string> files;                   // relative to root: "Coat/00012.png", "00012.png"
  std::vector<std::shared_ptr<const Image>> images; // shared so that subsets and concatenations copy no pixels
  std::vector<int64_t> labels;                      // -1 where unknown
  std::vector<std::string> classes;                 // class names by index (may be empty)
  std::vector<SkippedFile> skipped;                 // bad files left out (skip_bad_images)

  int64_t size() const { return int64_t(images.size()); }
  bool labeled() const;  // every label >= 0
  const Image& image(int64_t i) const { return *images[size_t(i)]; }
};

struct LoadOptions {
  int resize_height = 0, resize_width = 0;  // both > 0: resize every image once, at load time
  bool skip_bad_images = false;
  int threads = 4;                          // decoding threads (<= 0: all hardware threads)
  std::vector<std::string> classes;         // labeled trees: the expected class folders, in index order
};

Dataset load_labeled_tree(const std::string& root, const LoadOptions& opts = {});
Dataset load_unlabeled_folder(const std::string& dir, const LoadOptions& opts = {});
// labels_csv empty: no labels (all -1). Otherwise every image needs a row and every row an image
// (rows of skipped images excepted).
Dataset load_test_folder(const std::string& dir, const std::string& labels_csv = "", const LoadOptions& opts = {});

// ---- name lists -------------------------------------------------------------------------------
// One row of a "file,label" or "file,label,confidence" CSV (confidence 1 when absent).
struct LabelRow {
  std::string file;
  int64_t label = -1;
  double confidence = 1.0;
};
// Reads either header; throws naming the file and line for anything malformed or a repeated file.
std::vector<LabelRow> read_label_csv(const std::string& path);
// Writes "file,label" (or "file,label,confidence" with confidences), atomically.
void write_label_csv(const std::string& path, const std::vector<LabelRow>& rows, bool with_confidence = false);
// The pseudo-label list: "file,label,confidence".
inline std::vector<LabelRow> read_pseudo_labels(const std::string& path) { return read_label_csv(path); }
inline void write_pseudo_labels(const std::string& path, const std::vector<LabelRow>& rows) {
  write_label_csv(path, rows, true);
}
// classes.txt: one class name per line.
std::vector<std::string> read_class_names(const std::string& path);
void write_class_names(const std::string& path, const std::vector<std::string>& names);

// ---- combining --------------------------------------------------------------------------------
// Dataset indices of the named files, in the order given; throws naming the first unknown file.
std::vector<int64_t> indices_of(const Dataset& ds, const std::vector<std::string>& files);
// The samples of `ds` at `indices`, in that order (pixels shared, not copied).
Dataset subset(const Dataset& ds, const std::vector<int64_t>& indices);
// The listed files of `ds`, labelled from the rows (a pseudo-labeled subset of an unlabeled folder).
Dataset relabel(const Dataset& ds, const std::vector<LabelRow>& rows);
// a's samples then b's; class lists must agree where both are given. Files keep their names.
Dataset concat(const Dataset& a, const Dataset& b);

}  // namespace effnet::data
