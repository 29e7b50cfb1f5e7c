// Fuzz target: the image decoder (data::decode_image_memory: PNG, JPEG and BMP through
// stb_image, with effnet's truncation checks). Bad bytes must end in effnet::Error naming the file.
#include <filesystem>
#include <string>

#include "framework/data/image.h"
#include "fuzz_input.h"

using namespace effnet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::expect_clear_error([&] {
    data::Image img = data::decode_image_memory(data, size, "fuzz.img");
    if (img.width <= 0 || img.height <= 0 || img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
      fuzz::abort_with("decoded image of inconsistent size", std::to_string(img.width) + "x" + std::to_string(img.height));
  });
  return 0;
}

namespace {
void put_le(std::string& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}

// A 24-bit uncompressed BMP (BITMAPINFOHEADER, rows bottom-up, each padded to 4 bytes): the
// project writes none, so the seed is built here.
std::string bmp_file(const data::Image& img) {
  const uint32_t row = (uint32_t(img.width) * 3 + 3) / 4 * 4, pixels = row * uint32_t(img.height);
  std::string out = "BM";
  put_le(out, 54 + pixels, 4);
  put_le(out, 0, 4);
  put_le(out, 54, 4);  // pixel data offset
  put_le(out, 40, 4);  // header size
  put_le(out, uint32_t(img.width), 4);
  put_le(out, uint32_t(img.height), 4);
  put_le(out, 1, 2);   // planes
  put_le(out, 24, 2);  // bits per pixel
  for (int i = 0; i < 6; ++i) put_le(out, 0, 4);  // no compression, sizes and palette left to the reader
  for (int y = img.height - 1; y >= 0; --y) {
    for (int x = 0; x < img.width; ++x)
      for (int c = 2; c >= 0; --c) out.push_back(char(img.rgb[(size_t(y) * img.width + x) * 3 + c]));  // BGR
    out.append(row - uint32_t(img.width) * 3, '\0');
  }
  return out;
}
}  // namespace

// Seeds: small PNGs (RGB and grey, odd sizes) and JPEGs, as the project's own writers make them,
// and BMPs.
void effnet_fuzz_write_seeds(const std::string& dir) {
  for (int k = 0; k < 3; ++k) {
    data::Image img;
    img.width = 5 + 4 * k;
    img.height = 3 + 2 * k;
    for (int i = 0; i < img.width * img.height * 3; ++i) img.rgb.push_back(uint8_t(i * 37 + k * 11));
    data::write_png(dir + "/rgb" + std::to_string(k) + ".png", img);
    data::write_jpeg(dir + "/rgb" + std::to_string(k) + ".jpg", img, 50 + 20 * k);
    fuzz::write_seed(dir + "/rgb" + std::to_string(k) + ".bmp", bmp_file(img));
    std::vector<uint8_t> grey(size_t(img.width) * img.height);
    for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(i * 13);
    data::write_png(dir + "/grey" + std::to_string(k) + ".png", img.width, img.height, 1, grey.data());
  }
}
