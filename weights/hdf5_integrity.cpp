// The checks of hdf5_integrity.h. The global heap layout is the HDF5 file format specification's
// (III.E, Global Heap):
//   collection: "GCOL", version (1), 3 reserved bytes, collection size (length_size bytes),
//               then objects to the end of the collection;
//   object:     heap index (2), reference count (2), 4 reserved bytes, object size (length_size),
//               the data padded to 8 bytes. Index 0 is the free space, whose size covers its own
//               header and is not padded.
// HDF5 1.10 advances by the free-space object's size as stored, so a size of 0 never advances, and
// it copies an object's stated size out of the collection without checking that it fits.
#include "weights/hdf5_integrity.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "framework/core/error.h"

namespace effnet::h5 {
namespace {

constexpr char kSignature[] = "effnet-h5 v1 ";

// Closes the descriptor on every path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads up to n bytes at `offset`; returns how many were read (fewer only at the end of the file).
size_t read_at(int fd, uint64_t offset, uint8_t* out, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, out + done, n - done, off_t(offset + done));
    if (got < 0 && errno == EINTR) continue;
    EFFNET_CHECK(got >= 0, path, ": cannot read HDF5 file: ", std::strerror(errno));
    if (got == 0) break;
    done += size_t(got);
  }
  return done;
}

uint64_t little_endian(const uint8_t* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

uint32_t crc32_of(uint32_t crc, const uint8_t* p, size_t n) {
  while (n > 0) {  // zlib takes uInt lengths
    const uInt part = uInt(n > (size_t(1) << 30) ? (size_t(1) << 30) : n);
    crc = uint32_t(::crc32(crc, p, part));
    p += part;
    n -= part;
  }
  return crc;
}

// Walks the collection at `at` like HDF5 1.10's H5HG deserializer; returns what HDF5 would do
// wrong with it, or "" when nothing. A collection HDF5 refuses itself (bad version, size beyond
// the end of the file) is left to HDF5, which reports it as an error.
std::string collection_fault(int fd, uint64_t at, uint64_t file_size, size_t length_size, const std::string& path) {
  const size_t header = 8 + length_size, object_header = 8 + length_size;
  std::vector<uint8_t> h(header);
  if (read_at(fd, at, h.data(), header, path) < header || h[4] != 1) return "";
  const uint64_t size = little_endian(h.data() + 8, length_size);
  if (size < header || size > file_size - at) return "";
  std::vector<uint8_t> o(object_header);
  for (uint64_t p = header; p < size;) {
    const uint64_t left = size - p;
    if (object_header > left) return "";  // HDF5 takes the rest as free space
    if (read_at(fd, at + p, o.data(), object_header, path) < object_header) return "";
    const uint64_t index = little_endian(o.data(), 2), object_size = little_endian(o.data() + 8, length_size);
    if (index == 0 && object_size == 0) return "a free-space object of size 0, which HDF5 1.10 would read forever";
    if (index == 0 ? object_size > left : object_size > left - object_header)
      return "object " + std::to_string(index) + " of " + std::to_string(object_size) +
             " bytes runs past the collection's end, which HDF5 1.10 would read beyond its buffer";
    const uint64_t need = index > 0 ? object_header + ((object_size + 7) & ~uint64_t(7)) : object_size;
    if (need >= left) return "";  // the last object (its padding may reach past the end, as HDF5 allows)
    p += need;
  }
  return "";
}

// The header's stored crc32 and size; false when the block does not start with the signature.
// A block that starts with it but does not parse is a damaged header.
bool parse_header(const uint8_t* block, size_t n, uint32_t* crc, uint64_t* size, const std::string& path) {
  const size_t sig = sizeof(kSignature) - 1;
  if (n < sig || std::memcmp(block, kSignature, sig) != 0) return false;
  const std::string text(reinterpret_cast<const char*>(block), strnlen(reinterpret_cast<const char*>(block), n));
  unsigned long long s = 0;
  unsigned c = 0;
  int used = 0;
  const bool ok = std::sscanf(text.c_str(), "effnet-h5 v1 crc32 %8x size %llu\n%n", &c, &s, &used) == 2 &&
                  used == int(text.size());
  EFFNET_CHECK(ok, path, ": damaged integrity header (the first ", kIntegrityBlock,
               " bytes start like effnet's checksum header but do not parse; corrupt file)");
  *crc = c;
  *size = s;
  return true;
}

// Where HDF5 will find the superblock and the file's "size of lengths" (bytes of a length field).
// HDF5 looks for the superblock signature at byte 0, 512, 1024, 2048, ...; the sizes follow it at
// bytes 13-14 (superblock versions 0 and 1) or 9-10 (versions 2 and 3).
struct Superblock {
  bool found = false;
  uint64_t at = 0;
  size_t length_size = 0;
};

Superblock find_superblock(int fd, uint64_t file_size, const std::string& path) {
  static const uint8_t kHdf5Signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1A, '\n'};
  for (uint64_t at = 0; at + 16 <= file_size; at = at == 0 ? 512 : at * 2) {
    uint8_t sb[16];
    if (read_at(fd, at, sb, sizeof(sb), path) < sizeof(sb) || std::memcmp(sb, kHdf5Signature, 8) != 0) continue;
    return {true, at, size_t(sb[8] <= 1 ? sb[14] : sb[10])};
  }
  return {};
}

}  // namespace

void write_integrity_header(std::vector<unsigned char>& file) {
  EFFNET_CHECK(file.size() >= kIntegrityBlock, "write_integrity_header: file smaller than its user block");
  const uint32_t crc = crc32_of(uint32_t(::crc32(0, nullptr, 0)), file.data() + kIntegrityBlock,
                                file.size() - kIntegrityBlock);
  char text[kIntegrityBlock] = {};
  std::snprintf(text, sizeof(text), "effnet-h5 v1 crc32 %08" PRIx32 " size %zu\n", crc, file.size() - kIntegrityBlock);
  std::memcpy(file.data(), text, kIntegrityBlock);
}

void check_integrity(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  EFFNET_CHECK(f.fd >= 0, path, ": cannot open HDF5 file: ", std::strerror(errno));
  const off_t end = ::lseek(f.fd, 0, SEEK_END);
  EFFNET_CHECK(end >= 0, path, ": cannot read HDF5 file: ", std::strerror(errno));
  const uint64_t file_size = uint64_t(end);
  const Superblock superblock = find_superblock(f.fd, file_size, path);

  uint8_t header[kIntegrityBlock];
  const size_t header_bytes = read_at(f.fd, 0, header, kIntegrityBlock, path);
  uint32_t stored_crc = 0;
  uint64_t stored_size = 0;
  const bool verified = parse_header(header, header_bytes, &stored_crc, &stored_size, path);
  // Only a file whose superblock is at byte 0 is read without a checksum. Bytes before the
  // superblock are a user block: effnet's header, or (when they are not) the header damaged, or
  // another writer's block; either way, a file HDF5 would read unverified.
  EFFNET_CHECK(verified || !superblock.found || superblock.at == 0, path, ": its first ", superblock.at,
               " bytes are not effnet's checksum header (damaged, or the user block of another HDF5 writer); "
               "effnet reads the files it and weights/convert.py write, and HDF5 files without a user block");
  if (verified)
    EFFNET_CHECK(file_size >= kIntegrityBlock && file_size - kIntegrityBlock == stored_size, path,
                 ": truncated or extended: its checksum header says ", stored_size, " bytes follow it, the file holds ",
                 file_size >= kIntegrityBlock ? file_size - kIntegrityBlock : 0, " (an incomplete copy or download?)");
  // A checksummed file whose crc matches holds the bytes HDF5 itself wrote, so only a file without
  // the header needs its global heaps walked (a damaged checksummed one fails the crc instead).
  // (HDF5 refuses a size of lengths outside 1..8 itself.)
  const bool heaps = !verified && superblock.length_size >= 1 && superblock.length_size <= 8;
  if (!verified && !heaps) return;

  // Blocks overlap by 3 bytes, so that a heap signature across a block boundary is still seen; the
  // checksum covers each byte once.
  constexpr size_t kBlock = size_t(1) << 20, kOverlap = 3;
  std::vector<uint8_t> block(kBlock);
  uint32_t crc = uint32_t(::crc32(0, nullptr, 0));
  uint64_t summed = kIntegrityBlock;  // checksummed up to here
  for (uint64_t start = 0; start < file_size; start += kBlock - kOverlap) {
    const size_t n = read_at(f.fd, start, block.data(), kBlock, path);
    if (verified && start + n > summed) {
      crc = crc32_of(crc, block.data() + (summed - start), size_t(start + n - summed));
      summed = start + n;
    }
    for (size_t i = 0; heaps && i + 4 <= n; ++i) {
      const void* hit = std::memchr(block.data() + i, 'G', n - i - 3);
      if (!hit) break;
      i = size_t(static_cast<const uint8_t*>(hit) - block.data());
      if (std::memcmp(block.data() + i, "GCOL", 4) != 0) continue;
      const std::string fault = collection_fault(f.fd, start + i, file_size, superblock.length_size, path);
      EFFNET_CHECK(fault.empty(), path, ": damaged global heap collection at byte ", start + i, " (", fault,
                   "; corrupt file)");
    }
    if (n < kBlock) break;
  }
  if (verified) {
    char computed[9], stored[9];
    std::snprintf(computed, sizeof(computed), "%08" PRIx32, crc);
    std::snprintf(stored, sizeof(stored), "%08" PRIx32, stored_crc);
    EFFNET_CHECK(crc == stored_crc, path, ": checksum mismatch (crc32 ", computed, ", its header says ", stored,
                 "): the file was damaged after it was written (disk, copy or download) and is not read");
  }
}

}  // namespace effnet::h5
