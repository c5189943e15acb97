// Geometric ops: their parameter draws (Albumentations' / torchvision's
// get_params) and the kernels they call.
#include <cmath>

#include "data/augment/ops.h"
#include "data/augment/resize.h"
#include "engine/error.h"

namespace ember {

Image Resize::apply_image(const Image& img, Rng&) const { return resize(img, h_, w_, interp_, antialias_); }

Image SmallestMaxSize::apply_image(const Image& img, Rng&) const {
  // torchvision Resize(int): the shorter side becomes `size`, the longer int(size * long / short).
  int h = img.height, w = img.width;
  if (h <= w) {
    w = static_cast<int>(static_cast<int64_t>(size_) * w / h);
    h = size_;
  } else {
    h = static_cast<int>(static_cast<int64_t>(size_) * h / w);
    w = size_;
  }
  return resize(img, h, w, interp_, antialias_);
}

Image RandomCrop::apply_with(const Image& img, const Params& q) const {
  CropBox b = random_crop_box(img.height, img.width, h_, w_, q.h_start, q.w_start);
  return crop(img, b.y, b.x, b.h, b.w);
}

Image CenterCrop::apply_image(const Image& img, Rng&) const {
  CropBox b = center_crop_box(img.height, img.width, h_, w_);
  return crop(img, b.y, b.x, b.h, b.w);
}

CropBox RandomResizedCrop::draw(const Image& img, Rng& rng) const {
  const int H = img.height, W = img.width;
  const double area = static_cast<double>(H) * W;
  const double lr0 = std::log(ratio_.first), lr1 = std::log(ratio_.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target = area * rng.uniform(scale_.first, scale_.second);
    double aspect = std::exp(rng.uniform(lr0, lr1));
    int w = static_cast<int>(std::nearbyint(std::sqrt(target * aspect)));
    int h = static_cast<int>(std::nearbyint(std::sqrt(target / aspect)));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      int y = static_cast<int>(rng.randint(0, H - h)), x = static_cast<int>(rng.randint(0, W - w));
      return CropBox{y, x, h, w};
    }
  }
  // Fallback: the central crop with the ratio clamped (torchvision).
  double in_ratio = static_cast<double>(W) / H;
  int w = W, h = H;
  if (in_ratio < std::min(ratio_.first, ratio_.second)) {
    h = static_cast<int>(std::nearbyint(w / std::min(ratio_.first, ratio_.second)));
  } else if (in_ratio > std::max(ratio_.first, ratio_.second)) {
    w = static_cast<int>(std::nearbyint(h * std::max(ratio_.first, ratio_.second)));
  }
  return CropBox{(H - h) / 2, (W - w) / 2, h, w};
}

Image RandomResizedCrop::apply_with(const Image& img, const CropBox& b) const {
  return resize(crop(img, b.y, b.x, b.h, b.w), h_, w_, interp_, antialias_);
}

Image PadIfNeeded::apply_image(const Image& img, Rng&) const {
  int dh = std::max(0, h_ - img.height), dw = std::max(0, w_ - img.width);
  if (dh == 0 && dw == 0) return img;
  return pad(img, dh / 2, dh - dh / 2, dw / 2, dw - dw / 2, mode_, fill_);
}

Affine2x3 affine_matrix(const AffineParams& a, int height, int width) {
  const double cx = width / 2.0 - 0.5, cy = height / 2.0 - 0.5;
  const double r = a.angle * M_PI / 180.0, cr = std::cos(r), sr = std::sin(r);
  const double tx = std::tan(a.shear_x * M_PI / 180.0), ty = std::tan(a.shear_y * M_PI / 180.0);
  // L = R * ShY * ShX * S with R = [[c, s], [-s, c]] (counter-clockwise on
  // screen, as cv2.getRotationMatrix2D), ShX = [[1, -tx], [0, 1]],
  // ShY = [[1, 0], [-ty, 1]] (torchvision's shear), S = diag(sx, sy).
  const double h00 = 1, h01 = -tx, h10 = -ty, h11 = ty * tx + 1;  // ShY * ShX
  const double m00 = (cr * h00 + sr * h10) * a.scale_x, m01 = (cr * h01 + sr * h11) * a.scale_y;
  const double m10 = (-sr * h00 + cr * h10) * a.scale_x, m11 = (-sr * h01 + cr * h11) * a.scale_y;
  return {m00, m01, cx + a.tx - m00 * cx - m01 * cy, m10, m11, cy + a.ty - m10 * cx - m11 * cy};
}

Image Rotate::apply_with(const Image& img, double angle) const {
  Affine2x3 m = rotation_matrix(img.width / 2.0 - 0.5, img.height / 2.0 - 0.5, angle, 1.0);
  return warp_affine(img, m, img.height, img.width, style_.interp, style_.border, style_.value);
}

AffineParams Affine::draw(const Image& img, Rng& rng) const {
  AffineParams a;
  a.angle = rng.uniform(r_.rotate.first, r_.rotate.second);
  a.scale_x = rng.uniform(r_.scale_x.first, r_.scale_x.second);
  a.scale_y = r_.keep_ratio ? a.scale_x : rng.uniform(r_.scale_y.first, r_.scale_y.second);
  a.tx = rng.uniform(r_.translate_x.first, r_.translate_x.second);
  a.ty = rng.uniform(r_.translate_y.first, r_.translate_y.second);
  if (!r_.translate_in_pixels) {
    a.tx *= img.width;
    a.ty *= img.height;
  }
  a.shear_x = rng.uniform(r_.shear_x.first, r_.shear_x.second);
  a.shear_y = rng.uniform(r_.shear_y.first, r_.shear_y.second);
  return a;
}

Image Affine::apply_with(const Image& img, const AffineParams& a) const {
  return warp_affine(img, affine_matrix(a, img.height, img.width), img.height, img.width, style_.interp,
                     style_.border, style_.value);
}

OpticalDistortion::Params OpticalDistortion::draw(const Image&, Rng& rng) const {
  Params q;
  q.k = rng.uniform(distort_.first, distort_.second);
  q.dx = static_cast<int>(std::nearbyint(rng.uniform(shift_.first, shift_.second)));
  q.dy = static_cast<int>(std::nearbyint(rng.uniform(shift_.first, shift_.second)));
  return q;
}

// cv2.initUndistortRectifyMap with camera [[W, 0, W/2 + dx], [0, H, H/2 + dy]],
// distortion (k, k, 0, 0, 0) and OpenCV's default new camera (principal
// point at the pixel centre ((W-1)/2, (H-1)/2)); then cv2.remap.
Image OpticalDistortion::apply_with(const Image& img, const Params& q) const {
  const int H = img.height, W = img.width;
  const double fx = static_cast<float>(W), fy = static_cast<float>(H);
  const double cx = static_cast<float>(W * 0.5 + q.dx), cy = static_cast<float>(H * 0.5 + q.dy);
  const double k = static_cast<float>(q.k);
  const double ncx = (W - 1) * 0.5, ncy = (H - 1) * 0.5;
  std::vector<float> mx(static_cast<size_t>(H) * W), my(mx.size());
  for (int v = 0; v < H; ++v) {
    const double y = (v - ncy) / fy;
    for (int u = 0; u < W; ++u) {
      const double x = (u - ncx) / fx, r2 = x * x + y * y, kr = 1 + (k * r2 + k) * r2;
      mx[static_cast<size_t>(v) * W + u] = static_cast<float>(fx * x * kr + cx);
      my[static_cast<size_t>(v) * W + u] = static_cast<float>(fy * y * kr + cy);
    }
  }
  return remap(img, mx, my, H, W, style_.interp, style_.border, style_.value);
}

}  // namespace ember
