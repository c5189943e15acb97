// The augmentation ops. Names and parameters follow Albumentations 1.x
// (torchvision's where Albumentations has no such op); each random op has
// `Params draw(image, rng)` (what Albumentations' get_params returns) and
// `apply_with(image, params)` (its apply), and apply() is
// apply_with(image, draw(image, rng)).
#pragma once

#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "data/augment/border.h"
#include "data/augment/color.h"
#include "data/augment/filter.h"
#include "data/augment/geometry.h"
#include "data/augment/transform.h"
#include "data/augment/warp.h"

namespace ember {

using Range = std::pair<double, double>;
using Fill = std::array<uint8_t, 4>;

// --- Geometry (ops_geometric.cpp) ---
class Resize : public ImageTransform {
 public:
  Resize(int height, int width, Interpolation interp, bool antialias, double p = 1)
      : ImageTransform("Resize", p), h_(height), w_(width), interp_(interp), antialias_(antialias) {}
  Image apply_image(const Image& img, Rng&) const override;

 private:
  int h_, w_;
  Interpolation interp_;
  bool antialias_;
};

// Scales so the shorter side is `max_size`... (torchvision Resize(int)).
class SmallestMaxSize : public ImageTransform {
 public:
  SmallestMaxSize(int max_size, Interpolation interp, bool antialias, double p = 1)
      : ImageTransform("SmallestMaxSize", p), size_(max_size), interp_(interp), antialias_(antialias) {}
  Image apply_image(const Image& img, Rng&) const override;

 private:
  int size_;
  Interpolation interp_;
  bool antialias_;
};

class RandomCrop : public ImageTransform {
 public:
  RandomCrop(int height, int width, double p = 1) : ImageTransform("RandomCrop", p), h_(height), w_(width) {}
  struct Params {
    double h_start, w_start;
  };
  Params draw(const Image&, Rng& rng) const { return {rng.uniform(), rng.uniform()}; }
  Image apply_with(const Image& img, const Params& q) const;
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  int h_, w_;
};

class CenterCrop : public ImageTransform {
 public:
  CenterCrop(int height, int width, double p = 1) : ImageTransform("CenterCrop", p), h_(height), w_(width) {}
  Image apply_image(const Image& img, Rng&) const override;

 private:
  int h_, w_;
};

class RandomResizedCrop : public ImageTransform {
 public:
  RandomResizedCrop(int height, int width, Range scale, Range ratio, Interpolation interp, bool antialias,
                    double p = 1)
      : ImageTransform("RandomResizedCrop", p), h_(height), w_(width), scale_(scale), ratio_(ratio),
        interp_(interp), antialias_(antialias) {}
  CropBox draw(const Image& img, Rng& rng) const;  // torchvision's get_params
  Image apply_with(const Image& img, const CropBox& box) const;
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  int h_, w_;
  Range scale_, ratio_;
  Interpolation interp_;
  bool antialias_;
};

class Pad : public ImageTransform {
 public:
  Pad(int top, int bottom, int left, int right, BorderMode mode, Fill fill, double p = 1)
      : ImageTransform("Pad", p), t_(top), b_(bottom), l_(left), r_(right), mode_(mode), fill_(fill) {}
  Image apply_image(const Image& img, Rng&) const override { return pad(img, t_, b_, l_, r_, mode_, fill_); }

 private:
  int t_, b_, l_, r_;
  BorderMode mode_;
  Fill fill_;
};

class PadIfNeeded : public ImageTransform {
 public:
  PadIfNeeded(int min_height, int min_width, BorderMode mode, Fill fill, double p = 1)
      : ImageTransform("PadIfNeeded", p), h_(min_height), w_(min_width), mode_(mode), fill_(fill) {}
  Image apply_image(const Image& img, Rng&) const override;

 private:
  int h_, w_;
  BorderMode mode_;
  Fill fill_;
};

class HorizontalFlip : public ImageTransform {
 public:
  explicit HorizontalFlip(double p = 0.5) : ImageTransform("HorizontalFlip", p) {}
  Image apply_image(const Image& img, Rng&) const override { return hflip(img); }
};

class VerticalFlip : public ImageTransform {
 public:
  explicit VerticalFlip(double p = 0.5) : ImageTransform("VerticalFlip", p) {}
  Image apply_image(const Image& img, Rng&) const override { return vflip(img); }
};

class RandomRotate90 : public ImageTransform {
 public:
  explicit RandomRotate90(double p = 0.5) : ImageTransform("RandomRotate90", p) {}
  Image apply_image(const Image& img, Rng& rng) const override { return rot90(img, static_cast<int>(rng.randint(0, 3))); }
};

// Warp parameters shared by Rotate, ShiftScaleRotate and Affine.
struct WarpStyle {
  Interpolation interp = Interpolation::Linear;
  BorderMode border = BorderMode::Reflect101;
  Fill value = {0, 0, 0, 0};
};

// Albumentations' Rotate: about the pixel-centre centre, same output size.
class Rotate : public ImageTransform {
 public:
  Rotate(Range limit, WarpStyle style, double p = 0.5) : ImageTransform("Rotate", p), limit_(limit), style_(style) {}
  double draw(const Image&, Rng& rng) const { return rng.uniform(limit_.first, limit_.second); }
  Image apply_with(const Image& img, double angle) const;
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  Range limit_;
  WarpStyle style_;
};

// One affine draw: angle (degrees, counter-clockwise), scale per axis,
// translation in pixels, shear per axis (degrees, torchvision's meaning).
struct AffineParams {
  double angle = 0, scale_x = 1, scale_y = 1, tx = 0, ty = 0, shear_x = 0, shear_y = 0;
};
// The source-to-destination matrix about the image centre (w/2 - 0.5,
// h/2 - 0.5): translate * rotate * shear * scale, each about the centre.
Affine2x3 affine_matrix(const AffineParams& a, int height, int width);

class Affine : public ImageTransform {
 public:
  struct Ranges {
    Range scale_x{1, 1}, scale_y{1, 1}, translate_x{0, 0}, translate_y{0, 0}, rotate{0, 0}, shear_x{0, 0},
        shear_y{0, 0};
    bool translate_in_pixels = false, keep_ratio = false;
  };
  Affine(std::string name, Ranges r, WarpStyle style, double p = 0.5)
      : ImageTransform(std::move(name), p), r_(r), style_(style) {}
  AffineParams draw(const Image& img, Rng& rng) const;
  Image apply_with(const Image& img, const AffineParams& a) const;
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  Ranges r_;
  WarpStyle style_;
};

class OpticalDistortion : public ImageTransform {
 public:
  struct Params {
    double k = 0;
    int dx = 0, dy = 0;
  };
  OpticalDistortion(Range distort, Range shift, WarpStyle style, double p = 0.5)
      : ImageTransform("OpticalDistortion", p), distort_(distort), shift_(shift), style_(style) {}
  Params draw(const Image&, Rng& rng) const;
  Image apply_with(const Image& img, const Params& q) const;
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  Range distort_, shift_;
  WarpStyle style_;
};

// --- Colour (ops_color.cpp) ---
class ColorJitter : public ImageTransform {
 public:
  ColorJitter(Range brightness, Range contrast, Range saturation, Range hue, double p = 0.5)
      : ImageTransform("ColorJitter", p), b_(brightness), c_(contrast), s_(saturation), h_(hue) {}
  ColorJitterParams draw(const Image&, Rng& rng) const;
  Image apply_with(const Image& img, const ColorJitterParams& q) const { return color_jitter(img, q); }
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  Range b_, c_, s_, h_;
};

class Grayscale : public ImageTransform {
 public:
  Grayscale(std::string name, int channels, double p) : ImageTransform(std::move(name), p), channels_(channels) {}
  Image apply_image(const Image& img, Rng&) const override { return to_grayscale(img, channels_); }

 private:
  int channels_;
};

// --- Blur, noise, dropout (ops_filter.cpp) ---
class GaussianBlur : public ImageTransform {
 public:
  struct Params {
    int ksize;
    double sigma;
  };
  GaussianBlur(std::pair<int, int> blur_limit, Range sigma_limit, double p = 0.5)
      : ImageTransform("GaussianBlur", p), limit_(blur_limit), sigma_(sigma_limit) {}
  Params draw(const Image&, Rng& rng) const;
  Image apply_with(const Image& img, const Params& q) const { return gaussian_blur(img, q.ksize, q.sigma); }
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  std::pair<int, int> limit_;
  Range sigma_;
};

class MotionBlur : public ImageTransform {
 public:
  struct Params {
    int ksize;
    std::vector<float> kernel;
  };
  MotionBlur(std::pair<int, int> blur_limit, bool allow_shifted, double p = 0.5)
      : ImageTransform("MotionBlur", p), limit_(blur_limit), allow_shifted_(allow_shifted) {}
  Params draw(const Image&, Rng& rng) const;
  Image apply_with(const Image& img, const Params& q) const { return filter2d(img, q.kernel, q.ksize); }
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  std::pair<int, int> limit_;
  bool allow_shifted_;
};

class GaussNoise : public ImageTransform {
 public:
  GaussNoise(Range var_limit, double mean, bool per_channel, double p = 0.5)
      : ImageTransform("GaussNoise", p), var_(var_limit), mean_(mean), per_channel_(per_channel) {}
  std::vector<float> draw(const Image& img, Rng& rng) const;
  Image apply_with(const Image& img, const std::vector<float>& noise) const { return add_noise(img, noise); }
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  Range var_;
  double mean_;
  bool per_channel_;
};

// CoarseDropout / Cutout: rectangles of `fill`. Sizes < 1 are fractions of
// the image side.
class CoarseDropout : public ImageTransform {
 public:
  struct Limits {
    int min_holes = 8, max_holes = 8;
    double min_height = 8, max_height = 8, min_width = 8, max_width = 8;
  };
  CoarseDropout(std::string name, Limits limits, Fill fill, double p = 0.5)
      : ImageTransform(std::move(name), p), lim_(limits), fill_(fill) {}
  std::vector<Box> draw(const Image& img, Rng& rng) const;
  Image apply_with(const Image& img, const std::vector<Box>& holes) const { return fill_boxes(img, holes, fill_); }
  Image apply_image(const Image& img, Rng& rng) const override { return apply_with(img, draw(img, rng)); }

 private:
  Limits lim_;
  Fill fill_;
};

// torchvision's RandomErasing on the 8-bit image: one box, `value` per
// channel, or random bytes when `random_value`.
class RandomErasing : public ImageTransform {
 public:
  RandomErasing(Range scale, Range ratio, Fill value, bool random_value, double p = 0.5)
      : ImageTransform("RandomErasing", p), scale_(scale), ratio_(ratio), value_(value), random_(random_value) {}
  std::optional<Box> draw(const Image& img, Rng& rng) const;
  Image apply_image(const Image& img, Rng& rng) const override;

 private:
  Range scale_, ratio_;
  Fill value_;
  bool random_;
};

// --- Conversion to tensors (ops_tensor.cpp) ---
// (v - mean * max_pixel) / (std * max_pixel) in float32, HWC (Albumentations).
class Normalize : public Transform {
 public:
  Normalize(std::vector<float> mean, std::vector<float> std, float max_pixel, double p = 1)
      : Transform("Normalize", p), mean_(std::move(mean)), std_(std::move(std)), max_pixel_(max_pixel) {}
  void apply(Sample& s, Rng&) const override;

 private:
  std::vector<float> mean_, std_;
  float max_pixel_;
};
Tensor normalize_image(const Image& img, const std::vector<float>& mean, const std::vector<float>& std,
                       float max_pixel);

// v * scale in float32, HWC (Keras' rescale).
class Rescale : public Transform {
 public:
  explicit Rescale(float scale) : Transform("Rescale", 1), scale_(scale) {}
  void apply(Sample& s, Rng&) const override;

 private:
  float scale_;
};

// ToTensor (torchvision): uint8 HWC -> float CHW / 255; float HWC -> CHW.
// ToTensorV2 (Albumentations): HWC -> CHW, dtype kept.
class ToTensor : public Transform {
 public:
  explicit ToTensor(bool scale_uint8) : Transform(scale_uint8 ? "ToTensor" : "ToTensorV2", 1), scale_(scale_uint8) {}
  void apply(Sample& s, Rng&) const override;

 private:
  bool scale_;
};

}  // namespace ember
