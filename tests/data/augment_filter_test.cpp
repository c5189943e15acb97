// Blur, noise and dropout against Albumentations 1.3 (OpenCV) and
// torchvision 0.14, with the random parameters drawn by Ember and applied by
// both. Tolerances (intensity levels):
//   GaussianBlur sigma 0, ksize 3/5/7 vs Albumentations: exact (OpenCV's
//   fixed kernels in 1/256 steps, integer sums, the same rounding).
//   GaussianBlur sigma > 0 vs torchvision and Albumentations: 1 (float
//   kernels; OpenCV quantises its kernel to 16 bits).
//   MotionBlur (cv2.filter2D with the drawn kernel): 1 (float sums in a
//   different order may round a .5 either way).
//   GaussNoise with the drawn noise, CoarseDropout with the drawn holes,
//   RandomErasing with the drawn box: exact.
#include <gtest/gtest.h>

#include "data/augment/ops.h"
#include "data/decode.h"
#include "tests/data/image_oracle.h"

namespace ember::test {
namespace {

Image photo(const std::string& name) { return read_image(shared_data() + "/photos/" + name); }

std::vector<std::pair<std::string, Image>> photos() {
  Image chelsea = photo("chelsea.png");
  return {{"parrot.jpg", photo("parrot.jpg")}, {"chelsea.png", chelsea}, {"chelsea grey", convert_channels(chelsea, 1)}};
}

TEST(Blur, GaussianAgainstOpenCVAndTorchvision) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  for (auto& [name, img] : photos()) {
    for (int k : {3, 5, 7})
      expect_close(gaussian_blur(img, k, 0), albu().call_image("a.gaussian_blur", {{"ksize", k}, {"sigma", 0}}, img), 0,
                   "GaussianBlur k=" + std::to_string(k) + " vs A " + name);
    for (auto [k, sigma] : {std::pair{5, 1.3}, std::pair{9, 2.0}}) {
      std::string tag = " k=" + std::to_string(k) + " sigma=" + std::to_string(sigma) + " " + name;
      expect_close(gaussian_blur(img, k, sigma), tv().call_image("t.gaussian_blur", {{"ksize", k}, {"sigma", sigma}}, img), 1,
                   "GaussianBlur vs T" + tag);
      expect_close(gaussian_blur(img, k, sigma), albu().call_image("a.gaussian_blur", {{"ksize", k}, {"sigma", sigma}}, img), 1,
                   "GaussianBlur vs A" + tag);
    }
  }
}

TEST(Blur, MotionSameParametersSameOutput) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  for (auto& [name, img] : photos()) {
    for (bool shifted : {true, false}) {
      MotionBlur op({3, 9}, shifted);
      Rng rng(shifted ? 1 : 2);
      for (int i = 0; i < 3; ++i) {
        MotionBlur::Params q = op.draw(img, rng);
        Array kernel = Array::of(q.kernel, {q.ksize, q.ksize});
        expect_close(op.apply_with(img, q), albu().call("a.motion_blur", {}, {Array::of(img), kernel})[0].image(), 1,
                     "MotionBlur k=" + std::to_string(q.ksize) + " vs A " + name);
      }
    }
  }
}

TEST(Noise, GaussNoiseSameParametersSameOutput) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  for (auto& [name, img] : photos()) {
    for (bool per_channel : {true, false}) {
      GaussNoise op({10, 50}, 0, per_channel);
      Rng rng(7);
      std::vector<float> noise = op.draw(img, rng);
      const int64_t c = per_channel ? img.channels : 1;
      Array n = Array::of(noise, {img.height, img.width, c});
      expect_close(op.apply_with(img, noise), albu().call("a.gauss_noise", {}, {Array::of(img), n})[0].image(), 0,
                   "GaussNoise vs A " + name);
      // The noise has the drawn spread: var in [10, 50].
      double s2 = 0;
      for (float v : noise) s2 += double{v} * v;
      double var = s2 / static_cast<double>(noise.size());
      EXPECT_GT(var, 9);
      EXPECT_LT(var, 51);
    }
  }
}

TEST(Dropout, CoarseDropoutAndRandomErasing) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  for (auto& [name, img] : photos()) {
    CoarseDropout op("CoarseDropout", CoarseDropout::Limits{2, 8, 5, 40, 5, 40}, {128, 128, 128, 128});
    Rng rng(9);
    std::vector<Box> holes = op.draw(img, rng);
    json h = json::array();
    for (const Box& b : holes) h.push_back({b.x1, b.y1, b.x2, b.y2});
    expect_close(op.apply_with(img, holes), albu().call_image("a.cutout", {{"holes", h}, {"fill", 128}}, img), 0,
                 "CoarseDropout vs A " + name);
    RandomErasing er({0.02, 0.33}, {0.3, 3.3}, {10, 200, 30, 0}, false, 1.0);
    for (int i = 0; i < 3; ++i) {
      Rng r1(100 + i), r2(100 + i);
      std::optional<Box> b = er.draw(img, r1);
      ASSERT_TRUE(b.has_value());
      std::vector<int> v(static_cast<size_t>(img.channels));
      for (int c = 0; c < img.channels; ++c) v[static_cast<size_t>(c)] = std::vector<int>{10, 200, 30}[static_cast<size_t>(c)];
      json a{{"i", b->y1}, {"j", b->x1}, {"h", b->y2 - b->y1}, {"w", b->x2 - b->x1}, {"value", v}};
      expect_close(er.apply_image(img, r2), tv().call_image("t.erase", a, img), 0, "RandomErasing vs T " + name);
    }
  }
}

}  // namespace
}  // namespace ember::test
