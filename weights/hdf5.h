// A thin RAII layer over the HDF5 C API: files, float datasets and root attributes, with errors
// that name the file and the dataset. HDF5's own error printing is switched off; every failure
// becomes an effnet::Error.
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

#include "framework/core/atomic_file.h"
#include "framework/core/tensor.h"

namespace effnet::h5 {

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) { reset(); id_ = o.id_; close_ = o.close_; o.id_ = -1; }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  // Gives up ownership without closing.
  hid_t release() {
    hid_t id = id_;
    id_ = -1;
    return id;
  }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

class File {
 public:
  // Read-only; throws for a missing, non-HDF5 or truncated file, and for one that fails the checks
  // of hdf5_integrity.h (checksum, global heaps), which run before HDF5 reads any object.
  static File open(const std::string& path);
  // Opens a file on disk for reading and writing, with the checks of open(); for tests and fuzz
  // targets that edit files (the project changes its own files only by writing them anew, through
  // write_atomically). An edited file's checksum header no longer matches: edit a file without one.
  static File open_for_update(const std::string& path);
  // Creates (truncates) a file for writing on disk (tests use it to craft files; the project
  // writes its own files through write_atomically below).
  static File create(const std::string& path);
  // Creates a file that lives in memory only (HDF5's core driver, no backing store); `name` is
  // used in messages. take_image() turns it into the bytes of a file.
  static File create_in_memory(const std::string& name);
  // Flushes and closes, throwing if HDF5 could not finish the file (the destructor closes too, but
  // cannot report). Nothing may be used after it.
  void close();
  // For a file from create_in_memory: flushes it, returns the bytes of the whole file, its
  // checksum header filled in (hdf5_integrity.h), and closes it. Nothing may be used after it.
  std::vector<unsigned char> take_image();
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.id(); }

  // Names of the datasets directly in `group` ("/" for the root).
  std::vector<std::string> datasets(const std::string& group = "/") const;
  bool has(const std::string& name) const;
  Shape shape(const std::string& name) const;
  // The stored element type in numpy-like words ("float32", "float64", "int64", "uint8", "string",
  // ...), for messages and checks.
  std::string element_type(const std::string& name) const;
  // Reads a float32/float64 dataset into a float32 CPU tensor (or float64 when asked).
  Tensor read(const std::string& name, DType dtype = DType::Float32) const;
  // Reads an integer dataset (labels, indices) into an int64 CPU tensor.
  Tensor read_int64(const std::string& name) const;
  // Reads in the stored type: float32 -> Float32, float64 -> Float64, any integer -> Int64.
  Tensor read_as_stored(const std::string& name) const;
  void write(const std::string& name, const Tensor& t);  // float32/float64/int64, any device
  void create_group(const std::string& name);

  // Attributes of an object (default: the root group).
  bool has_attr(const std::string& name, const std::string& object = "/") const;
  std::string attr_string(const std::string& name, const std::string& object = "/") const;
  double attr_double(const std::string& name, const std::string& object = "/") const;
  int64_t attr_int(const std::string& name, const std::string& object = "/") const;
  std::vector<double> attr_doubles(const std::string& name, const std::string& object = "/") const;
  void set_attr(const std::string& name, const std::string& value, const std::string& object = "/");
  void set_attr(const std::string& name, double value, const std::string& object = "/");
  void set_attr(const std::string& name, int64_t value, const std::string& object = "/");
  void set_attr(const std::string& name, const std::vector<double>& value, const std::string& object = "/");

 private:
  File(std::string path, hid_t id) : path_(std::move(path)), h_(id, H5Fclose) {}
  std::string path_;
  Handle h_;
};

// Creates an HDF5 file at path through `write`, atomically and durably: the file is built in
// memory, then its bytes go through write_file_atomic (framework/core/atomic_file.h: temporary
// file, fsync, rename, folder fsync). HDF5 itself never touches the disk, so a full disk is
// reported with the real error of write/close/fsync and cannot leave HDF5 with a file it failed
// to close (which crashed the process at exit inside HDF5's library shutdown). When `write`
// throws, nothing is written and the error propagates. Costs a second copy of the file in memory
// while its bytes are written.
template <class F>
void write_atomically(const std::string& path, F&& write) {
  std::vector<unsigned char> bytes;
  {
    File f = File::create_in_memory(path);
    write(f);
    bytes = f.take_image();
  }
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace effnet::h5
