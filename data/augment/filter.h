// Blur and noise kernels on 8-bit HWC images (borders: OpenCV's default
// REFLECT_101, as cv2.GaussianBlur, cv2.filter2D and torchvision use).
//   gaussian_blur  separable; with sigma <= 0 and ksize <= 7 OpenCV's
//                  fixed kernels in 1/256 steps and exact integer sums
//                  (bit-exact with cv2.GaussianBlur); otherwise float
//                  kernels exp(-x^2 / 2 sigma^2), normalised. Cost per pixel
//                  and channel: 2 * ksize multiply-adds.
//   filter2d       correlation with a float kernel over its non-zero taps
//                  (cv2.filter2D), rounded half to even; cost per pixel and
//                  channel: one multiply-add per non-zero tap.
//   add_noise      trunc(clip(v + noise)) as Albumentations' gauss_noise.
#pragma once

#include <array>
#include <vector>

#include "data/augment/rng.h"
#include "data/image.h"

namespace ember {

Image gaussian_blur(const Image& src, int ksize, double sigma = 0);
// `kernel` is ksize x ksize, row-major, applied centred.
Image filter2d(const Image& src, const std::vector<float>& kernel, int ksize);
// A motion-blur kernel: a line of ones from (x1, y1) to (x2, y2) in a
// ksize x ksize grid, normalised to sum 1 (Albumentations' MotionBlur).
std::vector<float> motion_kernel(int ksize, int x1, int y1, int x2, int y2);

// noise: H*W*C floats (per channel) or H*W (shared by the channels).
Image add_noise(const Image& src, const std::vector<float>& noise);
// N(mean, sigma^2) noise of the image's size, drawn quickly from a
// 65,536-entry table of normal quantiles (an exact-enough stand-in for a
// normal draw at augmentation scale).
std::vector<float> gauss_noise_field(int height, int width, int channels, double mean, double sigma, Rng& rng);

// Sets each box [y1, y2) x [x1, x2) to `fill` (per channel).
struct Box {
  int x1, y1, x2, y2;
};
Image fill_boxes(const Image& src, const std::vector<Box>& boxes, std::array<uint8_t, 4> fill);

}  // namespace ember
