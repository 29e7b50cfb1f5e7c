// Image files: decoding (PNG, JPEG and BMP, through stb_image) into 8-bit RGB, and writing PNG
// (and JPEG, for tests) through stb_image_write. Every failure throws effnet::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/atomic_file.h"

namespace effnet::data {

// Interleaved 8-bit RGB, row-major: pixel (y, x) channel c is rgb[(y * width + x) * 3 + c].
// Always three channels: grey files are replicated, alpha is dropped.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

// The largest image read, in pixels (2^27: 11585 x 11585, 384 MiB as RGB); a larger header is
// refused before any memory is allocated for it.
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 27;

// Throws effnet::Error "<path>: cannot decode image: <stb's reason>" for a missing, unreadable,
// truncated, corrupt, too large or non-image file. Safe to call from several threads at once.
Image decode_image(const std::string& path);
// The same from bytes in memory; `name` only appears in error messages.
Image decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name);

// Writes `pixels` (height x width x channels, channels 1 = grey or 3 = RGB) as a PNG, atomically
// (framework/core/atomic_file.h).
void write_png(const std::string& path, int width, int height, int channels, const uint8_t* pixels,
               Durability durability = Durability::now);
void write_png(const std::string& path, const Image& img, Durability durability = Durability::now);
// Baseline JPEG (quality 1..100), written the same way.
void write_jpeg(const std::string& path, const Image& img, int quality = 95);

}  // namespace effnet::data
