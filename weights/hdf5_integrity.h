// What effnet checks of an HDF5 file before HDF5 parses it (docs/weights-format.md, "Integrity").
// HDF5 1.10 (Debian 12's libhdf5) trusts the bytes it reads: fuzzing found a damaged file that
// makes it loop forever, one that makes it read past its buffers, and use-after-free and leaks
// inside it (docs/testing.md). So:
//   - every file effnet writes (and weights/convert.py) starts with a 512-byte HDF5 user block
//     holding a checksum of the rest: "effnet-h5 v1 crc32 XXXXXXXX size N\n", zero-padded; a file
//     that carries one is verified whole before HDF5 reads a byte of it;
//   - a file without it is read only when its HDF5 superblock is at byte 0 (no user block), so
//     that damage to the header cannot turn a checksummed file into an unchecked one;
//   - in a file without it, the global heap collections (where string attributes live) are
//     walked as HDF5 would, and one HDF5 1.10 would loop on or read past is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace effnet::h5 {

// The user block effnet reserves at the start of the files it writes (HDF5's minimum).
inline constexpr size_t kIntegrityBlock = 512;

// Fills the first kIntegrityBlock bytes of `file` (reserved before an HDF5 file's bytes, which
// HDF5 then reads as a user block: it finds the superblock at byte 512) with the checksum header
// of the bytes after them.
void write_integrity_header(std::vector<unsigned char>& file);

// Checks the file at `path` in one sequential read, before HDF5 opens it: the checksum header
// when there is one (size and crc32), else every global heap collection (with the superblock's
// size of lengths). Throws effnet::Error naming the file and what is wrong.
void check_integrity(const std::string& path);

}  // namespace effnet::h5
