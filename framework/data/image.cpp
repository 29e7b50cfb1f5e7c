// Image decoding and encoding on stb_image / stb_image_write (Debian's libstb-dev). The stb
// implementations are compiled here, once, with static linkage so they cannot clash with another
// library's copy.
#include "framework/data/image.h"

#include <cctype>
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
// Only the formats image data sets come in: each other decoder of stb_image is more code that
// reads untrusted bytes (and the one with the most reported faults, GIF, among them).
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
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

// Where a JPEG's segments begin (just past its start-of-image marker, which stb lets fill bytes
// precede), or 0 when `b` is not a JPEG to stb.
size_t jpeg_data_start(const uint8_t* b, size_t n) {
  size_t i = 0;
  while (i < n && b[i] == 0xFF) ++i;
  return i > 0 && i < n && b[i] == 0xD8 ? i + 1 : 0;
}

// True when a JPEG declares a Huffman table of more than 256 codes. stb_image 2.27 (Debian 12's
// libstb-dev) then writes past its 257-entry tables (found by fuzzing, tests/fuzz; stb 2.28 checks
// it), so such a file is refused before stb reads it. Walks the marker segments the way stb does:
// SOI may follow fill bytes, each segment skips by its length, entropy-coded data (after SOS) is
// scanned to the next marker, and a DHT segment's tables are read while its length lasts.
bool jpeg_has_oversized_huffman_table(const uint8_t* b, size_t n) {
  size_t i = jpeg_data_start(b, n);
  if (i == 0) return false;  // not a JPEG to stb
  auto at = [&](size_t k) -> size_t { return k < n ? b[k] : 0; };  // stb reads 0 past the end
  while (i + 1 < n) {
    if (b[i] != 0xFF || b[i + 1] == 0xFF) {  // data between markers, or fill bytes
      ++i;
      continue;
    }
    const uint8_t marker = b[i + 1];
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length
      i += 2;
      continue;
    }
    if (marker == 0xD9) return false;  // end of image
    const size_t length = at(i + 2) << 8 | at(i + 3);
    if (marker == 0xC4) {
      long left = long(length) - 2;
      for (size_t t = i + 4; left > 0;) {
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += at(t + k);
        if (codes > 256) return true;
        t += 17 + codes;
        left -= long(17 + codes);
      }
    }
    i += 2 + length;
  }
  return false;
}

// The bytes an uncompressed BMP's pixel rows need (each row padded to 4 bytes), or 0 when `b` is
// not a BMP stb reads. stb fills the rows a short file lacks with zeros and reports success, so
// a 60-byte file could decode into 100 million black pixels (found by fuzzing).
uint64_t bmp_pixel_bytes(const uint8_t* b, size_t n) {
  if (n < 30 || b[0] != 'B' || b[1] != 'M') return 0;
  auto le = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(b[at + i]) << (8 * i);
    return v;
  };
  const uint64_t header = le(14, 4);
  const bool core = header == 12;  // the OS/2 header: 16-bit width and height
  const uint64_t width = core ? le(18, 2) : le(18, 4);
  const int64_t height = core ? int64_t(le(20, 2)) : int64_t(int32_t(uint32_t(le(22, 4))));
  const uint64_t bpp = core ? le(24, 2) : le(28, 2);
  const uint64_t rows = uint64_t(height < 0 ? -height : height);
  return (width * bpp + 31) / 32 * 4 * rows;
}

// The fewest bytes the coded data of a w x h JPEG that stb_image reads can take: every 8x8 block of
// the full-resolution component codes its DC difference with a Huffman code of at least one bit,
// in baseline and in progressive files alike (stb reads no arithmetic-coded JPEG). stb decodes
// a short file's missing blocks as grey and reports success, so 43 bytes could decode into 70
// million pixels (found by fuzzing).
uint64_t jpeg_min_bytes(int w, int h) { return (uint64_t(w) + 7) / 8 * ((uint64_t(h) + 7) / 8) / 8; }

const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

// A PNG ends with its IEND chunk (length 0, "IEND", CRC).
bool png_is_truncated(const uint8_t* b, size_t n) {
  if (n < 8 || std::memcmp(b, kPngSignature, 8) != 0) return false;  // not a PNG
  return n < 20 || std::memcmp(b + n - 8, "IEND", 4) != 0;
}

// The first PNG chunk (before IEND) whose declared length runs past the end of the file, as
// "chunk 'IDAT' declares N bytes, M remain"; "" when every chunk fits. stb_image allocates an IDAT
// chunk's declared length before reading it, so a 100-byte file could ask for 2 GiB (found by
// fuzzing).
std::string png_chunk_past_end(const uint8_t* b, size_t n) {
  if (n < 8 || std::memcmp(b, kPngSignature, 8) != 0) return "";  // not a PNG
  for (size_t at = 8; at + 8 <= n;) {
    const uint64_t length = uint64_t(b[at]) << 24 | uint64_t(b[at + 1]) << 16 | uint64_t(b[at + 2]) << 8 | b[at + 3];
    const std::string type(reinterpret_cast<const char*>(b + at + 4), 4);
    const uint64_t left = n - at - 8;
    if (length + 4 > left) {
      std::string printable;
      for (char c : type) printable += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
      return "chunk '" + printable + "' declares " + std::to_string(length) + " bytes, " + std::to_string(left) +
             " remain";
    }
    if (type == "IEND") return "";
    at += 8 + length + 4;
  }
  return "";
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
  if (reason == "unknown image type") return "unknown image type (effnet reads PNG, JPEG and BMP)";
  if (reason == "too large") return "image too large (its header asks for more than stb_image decodes)";
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
  const std::string past_end = png_chunk_past_end(bytes, size);
  if (!past_end.empty())
    EFFNET_THROW(name, ": cannot decode image: truncated PNG (the file ends before its IEND chunk; ", past_end, ")");
  EFFNET_CHECK(!jpeg_has_oversized_huffman_table(bytes, size), name,
               ": cannot decode image: corrupt JPEG (a Huffman table declares more than 256 codes)");
  int w = 0, h = 0, channels_in_file = 0;
  // The header's size is checked before decoding: stb allocates width x height x channels as the
  // header says, before it reads any pixel, so a few bytes could otherwise ask for gigabytes.
  // So is the size the pixels need against the file's (only where the header parsed: otherwise
  // stb refuses the file itself).
  if (stbi_info_from_memory(bytes, int(size), &w, &h, &channels_in_file)) {
    if (int64_t(w) * int64_t(h) > kMaxImagePixels)
      EFFNET_THROW(name, ": cannot decode image: image too large (", w, "x", h, " pixels; at most ",
                   kMaxImagePixels, " pixels are read)");
    if (jpeg_data_start(bytes, size) != 0 && jpeg_min_bytes(w, h) > size)
      EFFNET_THROW(name, ": cannot decode image: truncated or corrupt JPEG (its ", w, "x", h,
                   " pixels need at least ", jpeg_min_bytes(w, h), " bytes of coded data, the file has ", size, ")");
    const uint64_t bmp_needs = bmp_pixel_bytes(bytes, size);
    if (bmp_needs > size)
      EFFNET_THROW(name, ": cannot decode image: truncated BMP (its ", w, "x", h, " pixels need ", bmp_needs,
                   " bytes, the file has ", size, ")");
  }
  stbi_uc* pixels = stbi_load_from_memory(bytes, int(size), &w, &h, &channels_in_file, 3);
  if (!pixels) EFFNET_THROW(name, ": cannot decode image: ", failure_reason(bytes, size));
  // stb decodes a BMP whose header says height 0 (or width 0) into an empty image (found by
  // fuzzing); nothing downstream can use an image without pixels.
  if (w <= 0 || h <= 0) {
    stbi_image_free(pixels);
    EFFNET_THROW(name, ": cannot decode image: the header gives no pixels (", w, "x", h, ")");
  }
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
