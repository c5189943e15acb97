// Deterministic geometric kernels on 8-bit HWC images: flips, 90-degree
// rotations, crops and padding. Each is a copy of rows or pixels
// (cost: one byte read and written per output byte).
#pragma once

#include <array>

#include "data/augment/border.h"
#include "data/image.h"

namespace ember {

Image hflip(const Image& src);
Image vflip(const Image& src);
// Rotates by k * 90 degrees counter-clockwise (numpy's rot90(img, k)).
Image rot90(const Image& src, int k);
Image transpose_image(const Image& src);
// The box [y, y + h) x [x, x + w); it must lie inside the image.
Image crop(const Image& src, int y, int x, int h, int w);
// Adds rows/columns on each side, filled by the border mode (`value` per
// channel for Constant). cv2.copyMakeBorder.
Image pad(const Image& src, int top, int bottom, int left, int right, BorderMode mode,
          std::array<uint8_t, 4> value = {0, 0, 0, 0});

// Albumentations' crop placement: y = int((H - h + 1) * h_start).
struct CropBox {
  int y = 0, x = 0, h = 0, w = 0;
};
CropBox random_crop_box(int height, int width, int crop_h, int crop_w, double h_start, double w_start);
// (H - h) / 2 and (W - w) / 2, rounded down (Albumentations; torchvision
// rounds half to even, which differs by one pixel when H - h is odd).
CropBox center_crop_box(int height, int width, int crop_h, int crop_w);

}  // namespace ember
