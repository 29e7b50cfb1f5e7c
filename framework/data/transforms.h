// Image transforms for training and evaluation, on planar float images (C x H x W):
// bilinear resize exactly as PyTorch's F.interpolate(mode="bilinear", align_corners=False,
// antialias=False), random horizontal flip, random crop from a zero-padded image, mean/std
// normalisation after scaling 8-bit values to [0, 1], and random erasing (Zhong et al. 2017, as
// torchvision's RandomErasing after Normalize).
// Random choices come from Philox keyed by the seed, with the counter built from (epoch, sample),
// so a sample's flip and crop in a given epoch never depend on threads, batching or order.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "framework/data/image.h"

namespace effnet::data {

inline constexpr std::array<float, 3> kImageNetMean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImageNetStd{0.229f, 0.224f, 0.225f};

// 8-bit interleaved RGB -> planar float in [0, 1] (value / 255, like PyTorch's .float().div(255)).
void to_float_chw(const Image& img, float* out);
// Half-pixel centres, source coordinate clamped at 0 and neighbours clamped at the last row/column.
void resize_bilinear(const float* src, int channels, int in_h, int in_w, float* dst, int out_h, int out_w);
void flip_horizontal(float* chw, int channels, int h, int w);
// dst (channels x h x w) = the window at (top, left) of src zero-padded by `padding` on every side;
// top and left lie in [0, 2 * padding] (padding, padding is the centre: no shift).
void crop_with_padding(const float* src, int channels, int h, int w, int padding, int top, int left, float* dst);
// (x - mean[c]) / std[c] per channel, in that order (as PyTorch's (x - mean) / std).
void normalize(float* chw, int channels, int h, int w, const float* mean, const float* std);
// An 8-bit image resized with resize_bilinear and rounded back to 8 bits (for resizing at load time).
Image resize_image(const Image& img, int out_h, int out_w);

// Sets a rectangle of every channel to zero (the mean, after normalisation).
void erase_rect(float* chw, int channels, int h, int w, int top, int left, int rect_h, int rect_w);

// A random-erasing rectangle; erase_h == 0: nothing is erased.
struct EraseDraw {
  int top = 0, left = 0, erase_h = 0, erase_w = 0;
};

// The random choices for one sample in one epoch.
struct AugmentDraw {
  bool flip = false;
  int top = 0, left = 0;  // crop offset in the padded image
  EraseDraw erase;
};
// Philox key = seed; counters (epoch << 40) | (sample << 2) | k for k = 0 (flip), 1 (top), 2 (left).
// Needs epoch < 2^23 and sample < 2^38. Erasing draws from counter k = 3 under keys derived from
// the seed (one per number), so flips and crops are the same with erasing on or off.
AugmentDraw draw_augment(uint64_t seed, uint64_t epoch, uint64_t sample, double flip_prob, int padding);
// torchvision's RandomErasing(p, scale=(0.02, 0.33), ratio=(0.3, 3.3)) for an h x w image: with
// probability p, up to 10 tries of an area share and a log-uniform aspect ratio until the
// rectangle fits, else nothing.
EraseDraw draw_erase(uint64_t seed, uint64_t epoch, uint64_t sample, double p, int h, int w);

// The per-sample pipeline: scale to [0, 1] -> resize -> random crop -> random flip (or mirror) -> normalise
// -> random erasing.
struct Transform {
  int height = 0, width = 0;  // output size; 0 keeps the image's own size
  double flip_prob = 0.0;     // probability of a horizontal flip
  int crop_padding = 0;       // > 0: random crop of the output size from the image padded by this much
  double erase_prob = 0.0;    // probability of erasing a random rectangle (draw_erase)
  bool mirror = false;        // always flip: the mirrored view of test-time augmentation
  bool normalize = true;
  std::array<float, 3> mean = kImageNetMean, std = kImageNetStd;

  // Output size for an input image of the given size.
  int out_height(int in_h) const { return height > 0 ? height : in_h; }
  int out_width(int in_w) const { return width > 0 ? width : in_w; }
  bool is_random() const { return flip_prob > 0.0 || crop_padding > 0 || erase_prob > 0.0; }
  // Writes 3 x out_height x out_width floats to `out`.
  void apply(const Image& img, uint64_t seed, uint64_t epoch, uint64_t sample, float* out) const;
};

}  // namespace effnet::data
