// Colour kernels with torchvision's semantics on PIL images (so results
// match torchvision.transforms.functional exactly):
//   brightness  out = trunc(f * v)                      (a 256-entry table)
//   contrast    out = trunc(m + f * (v - m)), m = the image's mean grey
//               rounded to an integer                   (a table; one pass for m)
//   saturation  out = trunc(g + f * (v - g)), g = the pixel's grey
//               (PIL "L": (19595 R + 38470 G + 7471 B + 2^15) >> 16)
//   hue         PIL's uint8 HSV round trip with the hue byte shifted by
//               int(f * 255) (mod 256)
// Blends are computed in float32 as PIL does; values are clipped to
// [0, 255]. ColorJitter runs its adjustments fused, each pixel through all
// of them while in registers (8 pixels per AVX2 vector, four vectors
// interleaved so their long hue chains overlap), so it reads and
// writes the image once, or twice when contrast (which needs the mean grey
// of the image before it) follows another adjustment. Cost per channel
// value: about 7 float operations per blend (brightness, contrast,
// saturation); hue: one look-up in a table of PIL's own RGB->HSV hue bytes
// (built once, 400 KB), a float division for the saturation byte, then
// HSV->RGB in branch-free arithmetic (about 40 operations per pixel).
#pragma once

#include <array>

#include "data/image.h"

namespace ember {

Image adjust_brightness(const Image& src, double factor);
Image adjust_contrast(const Image& src, double factor);
Image adjust_saturation(const Image& src, double factor);
Image adjust_hue(const Image& src, double hue_factor);  // hue_factor in [-0.5, 0.5]
// Grey (PIL's "L" weights) with 1 or 3 equal output channels.
Image to_grayscale(const Image& src, int out_channels);

// ColorJitter's drawn parameters: factors (1 and 0 mean "off") and the
// order of the four adjustments (0 brightness, 1 contrast, 2 saturation,
// 3 hue), as torchvision's ColorJitter.get_params returns them.
struct ColorJitterParams {
  double brightness = 1, contrast = 1, saturation = 1, hue = 0;
  std::array<int, 4> order = {0, 1, 2, 3};
};
Image color_jitter(const Image& src, const ColorJitterParams& p);
// color_jitter with the scalar per-pixel code only (what builds without AVX2
// run), so that a test can compare the SIMD pass with it.
Image color_jitter_portable(const Image& src, const ColorJitterParams& p);

// PIL's uint8 HSV conversions, exposed so that a test can compare the fast
// forms adjust_hue uses (AVX2 where built with it, else portable scalar code)
// with PIL's literal arithmetic over every input. Pixels are packed triples.
namespace pil_hsv {
void rgb_to_hsv_reference(const uint8_t* rgb, uint8_t* hsv);  // one pixel
void hsv_to_rgb_reference(const uint8_t* hsv, uint8_t* rgb);
void rgb_to_hsv_fast(const uint8_t* rgb, uint8_t* hsv, size_t n);  // n pixels
// hsv_to_rgb of n pixels with `hue_shift` added to each hue byte (mod 256).
void hsv_to_rgb_fast(const uint8_t* hsv, uint8_t* rgb, size_t n, int hue_shift);
void rgb_to_hsv_portable(const uint8_t* rgb, uint8_t* hsv, size_t n);  // the scalar forms
void hsv_to_rgb_portable(const uint8_t* hsv, uint8_t* rgb, size_t n, int hue_shift);
}  // namespace pil_hsv

}  // namespace ember
