// HDF5 files, datasets and attributes (see hdf5.h).
#include "weights/hdf5.h"

#include <cmath>
#include <cstring>

#include "framework/core/creation.h"
#include "framework/core/finite.h"
#include "framework/core/input_file.h"
#include "weights/hdf5_integrity.h"

namespace effnet::h5 {
namespace {

// HDF5 prints its own error stack by default; effnet reports errors itself.
void silence_hdf5() {
  static bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// The number of elements of an attribute (1 for a scalar).
hssize_t attr_points(hid_t attr) {
  Handle space(H5Aget_space(attr), H5Sclose);
  return space.valid() ? H5Sget_simple_extent_npoints(space.id()) : -1;
}

// The datasets of a group, and the first member whose object header could not be read: a damaged
// dataset is named as such, not reported later as missing.
struct GroupListing {
  std::vector<std::string> datasets;
  std::string unreadable;
};

// Works with HDF5 1.10 and later (Debian 12 and Ubuntu 24.04 ship 1.10).
herr_t collect_dataset(hid_t group, const char* name, const H5L_info_t*, void* out) {
  auto* listing = static_cast<GroupListing*>(out);
  hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  if (obj < 0) {
    listing->unreadable = name;
    return -1;  // stops the iteration
  }
  if (H5Iget_type(obj) == H5I_DATASET) listing->datasets.push_back(name);
  H5Oclose(obj);
  return 0;
}

// Every floating-point dataset is checked finite as it is read, for every caller: a NaN or Inf
// weight, running statistic or optimizer moment otherwise surfaces much later as NaN confidences
// or a NaN loss that names neither the file nor the tensor.
void check_finite(const Tensor& t, const std::string& path, const std::string& name) {
  const NonFinite bad = find_non_finite(t);
  if (bad.count == 0) return;
  const char* what = std::isnan(bad.first_value) ? "nan" : bad.first_value > 0 ? "inf" : "-inf";
  EFFNET_THROW(path, ": dataset '", name, "' holds ", bad.count, " non-finite value", bad.count == 1 ? "" : "s",
               " of ", t.numel(), " (the first, at flat index ", bad.first, ", is ", what,
               "); the file is damaged or was saved from a diverged run");
}

}  // namespace

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = -1;
}

namespace {
hid_t open_checked(const std::string& path, unsigned flags) {
  silence_hdf5();
  check_input_file(path, "HDF5 file");
  // Before HDF5 reads a byte: the checksum, and the global heaps HDF5 1.10 would loop on or read
  // past (hdf5_integrity.h).
  check_integrity(path);
  htri_t is = H5Fis_hdf5(path.c_str());
  EFFNET_CHECK(is > 0, path, ": not an HDF5 file (or truncated: the superblock could not be read)");
  return H5Fopen(path.c_str(), flags, H5P_DEFAULT);
}
}  // namespace

File File::open_for_update(const std::string& path) {
  hid_t id = open_checked(path, H5F_ACC_RDWR);
  EFFNET_CHECK(id >= 0, path, ": HDF5 file could not be opened for writing");
  return File(path, id);
}

File File::open(const std::string& path) {
  hid_t id = open_checked(path, H5F_ACC_RDONLY);
  EFFNET_CHECK(id >= 0, path, ": HDF5 file could not be opened (truncated or corrupt)");
  return File(path, id);
}

void File::close() {
  if (!h_.valid()) return;
  hid_t id = h_.release();
  herr_t flushed = H5Fflush(id, H5F_SCOPE_GLOBAL);
  herr_t closed = H5Fclose(id);
  EFFNET_CHECK(flushed >= 0 && closed >= 0, path_, ": could not finish writing the HDF5 file (disk full?)");
}

File File::create(const std::string& path) {
  silence_hdf5();
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  EFFNET_CHECK(id >= 0, path, ": could not create HDF5 file");
  return File(path, id);
}

File File::create_in_memory(const std::string& name) {
  silence_hdf5();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // Grows in steps of 1 MiB; backing_store = false: closing writes nothing to disk.
  EFFNET_CHECK(fapl.valid() && H5Pset_fapl_core(fapl.id(), size_t(1) << 20, false) >= 0, name,
               ": could not set up an in-memory HDF5 file");
  hid_t id = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
  EFFNET_CHECK(id >= 0, name, ": could not create an in-memory HDF5 file");
  return File(name, id);
}

std::vector<unsigned char> File::take_image() {
  EFFNET_CHECK(h_.valid(), path_, ": HDF5 file already closed");
  EFFNET_CHECK(H5Fflush(id(), H5F_SCOPE_GLOBAL) >= 0, path_, ": could not finish the HDF5 file in memory");
  const ssize_t size = H5Fget_file_image(id(), nullptr, 0);
  EFFNET_CHECK(size >= 0, path_, ": could not get the HDF5 file's image");
  // The image goes after the checksum header's block (HDF5 finds a superblock at byte 512 and reads
  // the block before it as a user block).
  std::vector<unsigned char> bytes(kIntegrityBlock + static_cast<size_t>(size));
  EFFNET_CHECK(H5Fget_file_image(id(), bytes.data() + kIntegrityBlock, size_t(size)) == size, path_,
               ": could not copy the HDF5 file's image");
  close();
  write_integrity_header(bytes);
  return bytes;
}

std::vector<std::string> File::datasets(const std::string& group) const {
  GroupListing listing;
  Handle g(H5Gopen2(id(), group.c_str(), H5P_DEFAULT), H5Gclose);
  EFFNET_CHECK(g.valid(), path_, ": no group ", group);
  const herr_t listed = H5Literate(g.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_dataset, &listing);
  EFFNET_CHECK(listing.unreadable.empty(), path_, ": '", listing.unreadable, "' in group ", group,
               " cannot be read (its object header is damaged: corrupt file)");
  EFFNET_CHECK(listed >= 0, path_, ": could not list group ", group, " (corrupt file?)");
  return listing.datasets;
}

bool File::has(const std::string& name) const {
  return H5Lexists(id(), name.c_str(), H5P_DEFAULT) > 0;
}

Shape File::shape(const std::string& name) const {
  Handle d(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  EFFNET_CHECK(d.valid(), path_, ": no dataset '", name, "'");
  Handle space(H5Dget_space(d.id()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.id());
  EFFNET_CHECK(rank >= 0, path_, ": dataset '", name, "' has no readable shape");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

std::string File::element_type(const std::string& name) const {
  Handle d(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  EFFNET_CHECK(d.valid(), path_, ": no dataset '", name, "'");
  Handle type(H5Dget_type(d.id()), H5Tclose);
  const size_t bits = 8 * H5Tget_size(type.id());
  switch (H5Tget_class(type.id())) {
    case H5T_FLOAT: return "float" + std::to_string(bits);
    case H5T_INTEGER:
      return (H5Tget_sign(type.id()) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    default: return "unknown";
  }
}

Tensor File::read_as_stored(const std::string& name) const {
  std::string type = element_type(name);
  if (type == "float32") return read(name, DType::Float32);
  if (type == "float64") return read(name, DType::Float64);
  if (type.rfind("int", 0) == 0 || type.rfind("uint", 0) == 0) return read_int64(name);
  EFFNET_THROW(path_, ": dataset '", name, "' has element type ", type, " (expected float32, float64 or integers)");
}

Tensor File::read(const std::string& name, DType dtype) const {
  EFFNET_CHECK(dtype == DType::Float32 || dtype == DType::Float64, "h5 read: float dtype expected");
  Handle d(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  EFFNET_CHECK(d.valid(), path_, ": no dataset '", name, "'");
  Handle type(H5Dget_type(d.id()), H5Tclose);
  EFFNET_CHECK(H5Tget_class(type.id()) == H5T_FLOAT, path_, ": dataset '", name, "' is ", element_type(name),
               ", not floating point");
  Tensor t = Tensor::empty(shape(name), dtype);
  hid_t mem = dtype == DType::Float32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  EFFNET_CHECK(H5Dread(d.id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) >= 0, path_,
               ": could not read dataset '", name, "' (truncated or corrupt file)");
  check_finite(t, path_, name);
  return t;
}

Tensor File::read_int64(const std::string& name) const {
  Handle d(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  EFFNET_CHECK(d.valid(), path_, ": no dataset '", name, "'");
  Handle type(H5Dget_type(d.id()), H5Tclose);
  EFFNET_CHECK(H5Tget_class(type.id()) == H5T_INTEGER, path_, ": dataset '", name, "' is not an integer dataset");
  Tensor t = Tensor::empty(shape(name), DType::Int64);
  EFFNET_CHECK(H5Dread(d.id(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) >= 0, path_,
               ": could not read dataset '", name, "'");
  return t;
}

void File::write(const std::string& name, const Tensor& t_in) {
  Tensor t = t_in.detach().to(Device::cpu());
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  hid_t file_type = t.dtype() == DType::Float32 ? H5T_IEEE_F32LE
                    : t.dtype() == DType::Float64 ? H5T_IEEE_F64LE
                                                  : H5T_STD_I64LE;
  hid_t mem_type = t.dtype() == DType::Float32 ? H5T_NATIVE_FLOAT
                   : t.dtype() == DType::Float64 ? H5T_NATIVE_DOUBLE
                                                 : H5T_NATIVE_INT64;
  Handle d(H5Dcreate2(id(), name.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  EFFNET_CHECK(d.valid(), path_, ": could not create dataset '", name, "'");
  EFFNET_CHECK(H5Dwrite(d.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) >= 0, path_,
               ": could not write dataset '", name, "'");
}

void File::create_group(const std::string& name) {
  Handle g(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  EFFNET_CHECK(g.valid(), path_, ": could not create group ", name);
}

// ---- attributes -----------------------------------------------------------------------------------
namespace {
Handle open_attr(const File& f, const std::string& name, const std::string& object) {
  Handle a(H5Aopen_by_name(f.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  EFFNET_CHECK(a.valid(), f.path(), ": missing attribute '", name, "' on ", object);
  return a;
}

Handle create_attr(File& f, const std::string& name, const std::string& object, hid_t type, hid_t space) {
  if (H5Aexists_by_name(f.id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(f.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  Handle a(H5Acreate_by_name(f.id(), object.c_str(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  EFFNET_CHECK(a.valid(), f.path(), ": could not create attribute '", name, "'");
  return a;
}
}  // namespace

bool File::has_attr(const std::string& name, const std::string& object) const {
  return H5Aexists_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string File::attr_string(const std::string& name, const std::string& object) const {
  Handle a = open_attr(*this, name, object);
  Handle type(H5Aget_type(a.id()), H5Tclose);
  EFFNET_CHECK(H5Tget_class(type.id()) == H5T_STRING, path_, ": attribute '", name, "' is not a string");
  // An array of strings would be read into one buffer meant for a single value.
  EFFNET_CHECK(attr_points(a.id()) == 1, path_, ": attribute '", name, "' is not a single string");
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id(), H5T_VARIABLE);
    H5Tset_cset(mem.id(), H5Tget_cset(type.id()));
    char* s = nullptr;
    EFFNET_CHECK(H5Aread(a.id(), mem.id(), &s) >= 0, path_, ": could not read attribute '", name, "'");
    std::string out = s ? s : "";
    Handle space(H5Aget_space(a.id()), H5Sclose);
    H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, &s);
    return out;
  }
  size_t n = H5Tget_size(type.id());
  std::string out(n, '\0');
  EFFNET_CHECK(H5Aread(a.id(), type.id(), out.data()) >= 0, path_, ": could not read attribute '", name, "'");
  out.resize(out.find('\0') == std::string::npos ? n : out.find('\0'));
  return out;
}

std::vector<double> File::attr_doubles(const std::string& name, const std::string& object) const {
  Handle a = open_attr(*this, name, object);
  Handle type(H5Aget_type(a.id()), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.id());
  EFFNET_CHECK(cls == H5T_FLOAT || cls == H5T_INTEGER, path_, ": attribute '", name, "' is not numeric");
  hssize_t n = attr_points(a.id());
  EFFNET_CHECK(n >= 1, path_, ": attribute '", name, "' is empty");
  std::vector<double> v(static_cast<size_t>(n));
  EFFNET_CHECK(H5Aread(a.id(), H5T_NATIVE_DOUBLE, v.data()) >= 0, path_, ": attribute '", name, "' is not numeric");
  return v;
}

double File::attr_double(const std::string& name, const std::string& object) const {
  std::vector<double> v = attr_doubles(name, object);
  EFFNET_CHECK(v.size() == 1, path_, ": attribute '", name, "' is not a scalar");
  return v[0];
}

int64_t File::attr_int(const std::string& name, const std::string& object) const {
  Handle a = open_attr(*this, name, object);
  EFFNET_CHECK(attr_points(a.id()) == 1, path_, ": attribute '", name, "' is not a scalar");
  Handle type(H5Aget_type(a.id()), H5Tclose);
  EFFNET_CHECK(H5Tget_class(type.id()) == H5T_INTEGER, path_, ": attribute '", name, "' is not an integer");
  int64_t v = 0;
  EFFNET_CHECK(H5Aread(a.id(), H5T_NATIVE_INT64, &v) >= 0, path_, ": attribute '", name, "' is not an integer");
  return v;
}

void File::set_attr(const std::string& name, const std::string& value, const std::string& object) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a = create_attr(*this, name, object, type.id(), space.id());
  const char* s = value.c_str();
  EFFNET_CHECK(H5Awrite(a.id(), type.id(), &s) >= 0, path_, ": could not write attribute '", name, "'");
}

void File::set_attr(const std::string& name, double value, const std::string& object) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a = create_attr(*this, name, object, H5T_IEEE_F64LE, space.id());
  EFFNET_CHECK(H5Awrite(a.id(), H5T_NATIVE_DOUBLE, &value) >= 0, path_, ": could not write attribute '", name, "'");
}

void File::set_attr(const std::string& name, int64_t value, const std::string& object) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a = create_attr(*this, name, object, H5T_STD_I64LE, space.id());
  EFFNET_CHECK(H5Awrite(a.id(), H5T_NATIVE_INT64, &value) >= 0, path_, ": could not write attribute '", name, "'");
}

void File::set_attr(const std::string& name, const std::vector<double>& value, const std::string& object) {
  hsize_t n = value.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle a = create_attr(*this, name, object, H5T_IEEE_F64LE, space.id());
  EFFNET_CHECK(H5Awrite(a.id(), H5T_NATIVE_DOUBLE, value.data()) >= 0, path_, ": could not write attribute '", name, "'");
}

}  // namespace effnet::h5
