// Image files: decoding (PNG, JPEG, BMP, ... through stb_image) into 8-bit RGB, and writing PNG
// (and JPEG, for tests) through stb_image_write. Every failure throws effnet::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace effnet::data {

// Interleaved 8-bit RGB, row-major: pixel (y, x) channel c is rgb[(y * width + x) * 3 + c].
// Always three channels: grey files are replicated, alpha is dropped.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

// Throws effnet::Error "<path>: cannot decode image: <stb's reason>" for a missing, unreadable,
// truncated, corrupt or non-image file. Safe to call from several threads at once.
Image decode_image(const std::string& path);
// The same from bytes in memory; `name` only appears in error messages.
Image decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name);

// Writes `pixels` (height x width x channels, channels 1 = grey or 3 = RGB) as a PNG, atomically:
// to "<path>.tmp" first, then renamed over `path`.
void write_png(const std::string& path, int width, int height, int channels, const uint8_t* pixels);
void write_png(const std::string& path, const Image& img);
// Baseline JPEG (quality 1..100), written the same way.
void write_jpeg(const std::string& path, const Image& img, int quality = 95);

// Writes `bytes` to "<path>.tmp" and renames it over `path`; the file is either the old one or the
// complete new one, never a partial write.
void write_file_atomic(const std::string& path, const void* bytes, size_t size);

}  // namespace effnet::data
