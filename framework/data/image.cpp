// Image decoding and encoding on stb_image / stb_image_write (Debian's libstb-dev). The stb
// implementations are compiled here, once, with static linkage so they cannot clash with another
// library's copy.
#include "framework/data/image.h"

#include <cstring>
#include <memory>

#include "framework/core/error.h"
#include "framework/core/input_file.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO  // files are read through read_input_file (regular files only, errno in errors)
#include <stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace effnet::data {
namespace {

// stb_image fills a truncated JPEG's missing scans with grey and reports success; a complete
// JPEG ends with the EOI marker (FF D9), possibly followed by a little padding.
bool jpeg_is_truncated(const uint8_t* b, size_t n) {
  if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;  // not a JPEG
  size_t tail = n > 1024 ? n - 1024 : 0;
  for (size_t i = n - 1; i > tail; --i)
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return false;
  return true;
}

// A PNG ends with its IEND chunk (length 0, "IEND", CRC).
bool png_is_truncated(const uint8_t* b, size_t n) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n < 8 || std::memcmp(b, kSignature, 8) != 0) return false;  // not a PNG
  return n < 20 || std::memcmp(b + n - 8, "IEND", 4) != 0;
}

// stb_image's reasons are terse, and some paths leave it empty (a PNG cut right after its header
// gives ""): the reason in words, with the truncation named where it can be seen.
std::string failure_reason(const uint8_t* b, size_t n) {
  const char* stb = stbi_failure_reason();
  const std::string reason = stb ? stb : "";
  if (png_is_truncated(b, n))
    return "truncated PNG (the file ends before its IEND chunk" + (reason.empty() ? "" : "; " + reason) + ")";
  if (reason.empty()) return "corrupt image data (the decoder gave no reason)";
  if (reason == "outofdata") return "truncated or corrupt image data (outofdata)";
  return reason;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

Image decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name) {
  EFFNET_CHECK(size > 0, name, ": cannot decode image: empty file");
  EFFNET_CHECK(size <= size_t(INT32_MAX), name, ": cannot decode image: file too large (", size, " bytes)");
  EFFNET_CHECK(!jpeg_is_truncated(bytes, size), name, ": cannot decode image: truncated JPEG (no end-of-image marker)");
  int w = 0, h = 0, channels_in_file = 0;
  stbi_uc* pixels = stbi_load_from_memory(bytes, int(size), &w, &h, &channels_in_file, 3);
  if (!pixels) EFFNET_THROW(name, ": cannot decode image: ", failure_reason(bytes, size));
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels, pixels + size_t(w) * size_t(h) * 3);
  stbi_image_free(pixels);
  return img;
}

Image decode_image(const std::string& path) {
  const std::string bytes = read_input_file(path, "image");
  return decode_image_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

void write_png(const std::string& path, int width, int height, int channels, const uint8_t* pixels,
               Durability durability) {
  EFFNET_CHECK(width > 0 && height > 0, path, ": write_png: bad size ", width, "x", height);
  EFFNET_CHECK(channels == 1 || channels == 3, path, ": write_png: channels must be 1 or 3, got ", channels);
  std::vector<uint8_t> encoded;
  if (!stbi_write_png_to_func(&append_bytes, &encoded, width, height, channels, pixels, width * channels))
    EFFNET_THROW(path, ": PNG encoding failed");
  write_file_atomic(path, encoded.data(), encoded.size(), durability);
}

void write_png(const std::string& path, const Image& img, Durability durability) {
  EFFNET_CHECK(img.rgb.size() == size_t(img.width) * size_t(img.height) * 3, path, ": write_png: image of ", img.width,
               "x", img.height, " holds ", img.rgb.size(), " bytes");
  write_png(path, img.width, img.height, 3, img.rgb.data(), durability);
}

void write_jpeg(const std::string& path, const Image& img, int quality) {
  EFFNET_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == size_t(img.width) * img.height * 3, path,
               ": write_jpeg: image of ", img.width, "x", img.height, " holds ", img.rgb.size(), " bytes");
  EFFNET_CHECK(quality >= 1 && quality <= 100, path, ": write_jpeg: quality must be in 1..100, got ", quality);
  std::vector<uint8_t> encoded;
  if (!stbi_write_jpg_to_func(&append_bytes, &encoded, img.width, img.height, 3, img.rgb.data(), quality))
    EFFNET_THROW(path, ": JPEG encoding failed");
  write_file_atomic(path, encoded.data(), encoded.size());
}

}  // namespace effnet::data
