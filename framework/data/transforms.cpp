// Image transforms (see transforms.h). The resize follows PyTorch's CPU kernel step by step in
// float (scale = in / out, source = scale * (dst + 0.5) - 0.5 clamped at 0, weights 1 - l and l,
// rows combined after columns) so that results match it to the last bit or two.
#include "framework/data/transforms.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"
#include "framework/core/philox.h"

namespace effnet::data {
namespace {

struct Tap {
  int i0, i1;      // the two source indices (equal at the last row/column)
  float w0, w1;    // their weights
};

std::vector<Tap> linear_taps(int in, int out) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  const float scale = float(in) / float(out);
  for (int o = 0; o < out; ++o) {
    float src = scale * (float(o) + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int i0 = std::min(int(src), in - 1);
    float l1 = std::min(std::max(src - float(i0), 0.0f), 1.0f);
    taps[size_t(o)] = Tap{i0, i0 < in - 1 ? i0 + 1 : i0, 1.0f - l1, l1};
  }
  return taps;
}

}  // namespace

void to_float_chw(const Image& img, float* out) {
  const size_t plane = size_t(img.width) * size_t(img.height);
  EFFNET_CHECK(img.rgb.size() == plane * 3, "to_float_chw: image of ", img.width, "x", img.height, " holds ",
               img.rgb.size(), " bytes, expected ", plane * 3);
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) out[c * plane + p] = float(img.rgb[p * 3 + c]) / 255.0f;
}

void resize_bilinear(const float* src, int channels, int in_h, int in_w, float* dst, int out_h, int out_w) {
  EFFNET_CHECK(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0, "resize_bilinear: bad sizes ", in_h, "x", in_w,
               " -> ", out_h, "x", out_w);
  const std::vector<Tap> ty = linear_taps(in_h, out_h), tx = linear_taps(in_w, out_w);
  for (int c = 0; c < channels; ++c) {
    const float* s = src + size_t(c) * in_h * in_w;
    float* d = dst + size_t(c) * out_h * out_w;
    for (int y = 0; y < out_h; ++y) {
      const Tap& a = ty[size_t(y)];
      const float* r0 = s + size_t(a.i0) * in_w;
      const float* r1 = s + size_t(a.i1) * in_w;
      for (int x = 0; x < out_w; ++x) {
        const Tap& b = tx[size_t(x)];
        float top = r0[b.i0] * b.w0 + r0[b.i1] * b.w1;
        float bottom = r1[b.i0] * b.w0 + r1[b.i1] * b.w1;
        d[size_t(y) * out_w + x] = top * a.w0 + bottom * a.w1;
      }
    }
  }
}

void flip_horizontal(float* chw, int channels, int h, int w) {
  for (int r = 0; r < channels * h; ++r) std::reverse(chw + size_t(r) * w, chw + size_t(r + 1) * w);
}

void crop_with_padding(const float* src, int channels, int h, int w, int padding, int top, int left, float* dst) {
  EFFNET_CHECK(padding >= 0 && top >= 0 && left >= 0 && top <= 2 * padding && left <= 2 * padding,
               "crop_with_padding: offset (", top, ", ", left, ") outside [0, ", 2 * padding, "]");
  const int dy = top - padding, dx = left - padding;  // source = destination + shift
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < h; ++y) {
      float* d = dst + (size_t(c) * h + y) * w;
      int sy = y + dy;
      if (sy < 0 || sy >= h) {
        std::fill(d, d + w, 0.0f);
        continue;
      }
      const float* s = src + (size_t(c) * h + sy) * w;
      for (int x = 0; x < w; ++x) {
        int sx = x + dx;
        d[x] = (sx >= 0 && sx < w) ? s[sx] : 0.0f;
      }
    }
}

void normalize(float* chw, int channels, int h, int w, const float* mean, const float* std) {
  const size_t plane = size_t(h) * w;
  for (int c = 0; c < channels; ++c) {
    float* p = chw + size_t(c) * plane;
    for (size_t i = 0; i < plane; ++i) p[i] = (p[i] - mean[c]) / std[c];
  }
}

Image resize_image(const Image& img, int out_h, int out_w) {
  std::vector<float> planar(size_t(img.width) * img.height * 3), resized(size_t(out_h) * out_w * 3);
  to_float_chw(img, planar.data());
  resize_bilinear(planar.data(), 3, img.height, img.width, resized.data(), out_h, out_w);
  Image out;
  out.width = out_w;
  out.height = out_h;
  out.rgb.resize(resized.size());
  const size_t plane = size_t(out_h) * out_w;
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) {
      float v = std::nearbyint(resized[c * plane + p] * 255.0f);
      out.rgb[p * 3 + c] = uint8_t(std::min(255.0f, std::max(0.0f, v)));
    }
  return out;
}

AugmentDraw draw_augment(uint64_t seed, uint64_t epoch, uint64_t sample, double flip_prob, int padding) {
  const uint64_t base = (epoch << 40) | (sample << 2);
  AugmentDraw d;
  if (flip_prob > 0.0) d.flip = philox::sample_uniform<double>(seed, base | 0, 0.0, 1.0) < flip_prob;
  if (padding > 0) {
    const int span = 2 * padding + 1;
    d.top = std::min(span - 1, int(philox::sample_uniform<double>(seed, base | 1, 0.0, double(span))));
    d.left = std::min(span - 1, int(philox::sample_uniform<double>(seed, base | 2, 0.0, double(span))));
  } else {
    d.top = d.left = 0;
  }
  return d;
}

void erase_rect(float* chw, int channels, int h, int w, int top, int left, int rect_h, int rect_w) {
  EFFNET_CHECK(top >= 0 && left >= 0 && rect_h >= 0 && rect_w >= 0 && top + rect_h <= h && left + rect_w <= w,
               "erase_rect: ", rect_h, "x", rect_w, " at (", top, ", ", left, ") does not fit a ", h, "x", w, " image");
  for (int c = 0; c < channels; ++c)
    for (int y = top; y < top + rect_h; ++y) std::fill_n(chw + (size_t(c) * h + y) * w + left, rect_w, 0.0f);
}

EraseDraw draw_erase(uint64_t seed, uint64_t epoch, uint64_t sample, double p, int h, int w) {
  EraseDraw d;
  if (p <= 0.0) return d;
  const uint64_t counter = (epoch << 40) | (sample << 2) | 3;
  // Number j of this sample's erasing draws: its own key, the same counter.
  auto uniform = [&](int j, double lo, double hi) {
    return philox::sample_uniform<double>(seed ^ (0x9E3779B97F4A7C15ull * uint64_t(j + 1)), counter, lo, hi);
  };
  if (uniform(0, 0.0, 1.0) >= p) return d;
  const double area = double(h) * double(w);
  const double log_lo = std::log(0.3), log_hi = std::log(3.3);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const int j = 1 + 4 * attempt;
    const double erase_area = area * uniform(j, 0.02, 0.33);
    const double aspect = std::exp(uniform(j + 1, log_lo, log_hi));
    const int eh = int(std::lround(std::sqrt(erase_area * aspect)));
    const int ew = int(std::lround(std::sqrt(erase_area / aspect)));
    if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;  // torchvision: must be strictly inside
    d.erase_h = eh;
    d.erase_w = ew;
    d.top = std::min(h - eh, int(uniform(j + 2, 0.0, double(h - eh + 1))));
    d.left = std::min(w - ew, int(uniform(j + 3, 0.0, double(w - ew + 1))));
    return d;
  }
  return d;
}

void Transform::apply(const Image& img, uint64_t seed, uint64_t epoch, uint64_t sample, float* out) const {
  const int oh = out_height(img.height), ow = out_width(img.width);
  const bool resize = oh != img.height || ow != img.width;
  const AugmentDraw draw = draw_augment(seed, epoch, sample, flip_prob, crop_padding);
  // Each stage writes the buffer the next one reads; `out` is the last one written.
  thread_local std::vector<float> a, b;
  const size_t in_n = size_t(img.width) * img.height * 3, out_n = size_t(oh) * ow * 3;
  float* cur = out;
  if (resize || crop_padding > 0) {
    a.resize(std::max(in_n, out_n));
    cur = a.data();
  }
  to_float_chw(img, cur);
  if (resize) {
    float* next = crop_padding > 0 ? (b.resize(out_n), b.data()) : out;
    resize_bilinear(cur, 3, img.height, img.width, next, oh, ow);
    cur = next;
  }
  if (crop_padding > 0) {
    crop_with_padding(cur, 3, oh, ow, crop_padding, draw.top, draw.left, out);
    cur = out;
  }
  if (draw.flip != mirror) flip_horizontal(out, 3, oh, ow);  // a random flip of the mirror image unflips it
  if (normalize) ::effnet::data::normalize(out, 3, oh, ow, mean.data(), std.data());
  if (erase_prob > 0.0) {
    const EraseDraw e = draw_erase(seed, epoch, sample, erase_prob, oh, ow);
    if (e.erase_h > 0) erase_rect(out, 3, oh, ow, e.top, e.left, e.erase_h, e.erase_w);
  }
}

}  // namespace effnet::data
