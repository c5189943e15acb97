// Warps on 8-bit HWC images, numerically OpenCV's (so Albumentations'):
// source coordinates are quantised to 1/32 pixel and bilinear weights are
// 15-bit fixed point, so results match cv2.warpAffine / cv2.remap to within
// one intensity level. Cost per output pixel: one coordinate update and
// 4 taps (bilinear) or 1 tap (nearest); border taps go through the border
// mode's index mapping.
#pragma once

#include <array>
#include <vector>

#include "data/augment/border.h"
#include "data/image.h"

namespace ember {

// A 2x3 affine matrix, row-major: [a b c; d e f] maps (x, y, 1).
using Affine2x3 = std::array<double, 6>;

Affine2x3 invert_affine(const Affine2x3& m);
// cv2.getRotationMatrix2D: rotation by `angle` degrees counter-clockwise
// (on screen) and isotropic `scale` about `center`.
Affine2x3 rotation_matrix(double cx, double cy, double angle_deg, double scale);

// dst(x, y) = src(M^-1 (x, y)) where M maps source to destination
// (cv2.warpAffine without WARP_INVERSE_MAP).
Image warp_affine(const Image& src, const Affine2x3& m, int out_h, int out_w, Interpolation interp,
                  BorderMode border, std::array<uint8_t, 4> value = {0, 0, 0, 0});

// dst(x, y) = src(map_x(x, y), map_y(x, y)) (cv2.remap with float maps).
Image remap(const Image& src, const std::vector<float>& map_x, const std::vector<float>& map_y, int out_h, int out_w,
            Interpolation interp, BorderMode border, std::array<uint8_t, 4> value = {0, 0, 0, 0});

}  // namespace ember
