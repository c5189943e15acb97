// Geometric ops against Albumentations 1.3 (OpenCV) and torchvision 0.14
// (PIL) on real photos. Tolerances (intensity levels, per value):
//   flips, rot90, crops, pad: exact (pure copies).
//   Resize nearest / linear (no antialias) / area vs Albumentations: 1.
//   Resize linear with antialias (PIL's filter) vs torchvision: 1.
//   Rotate, ShiftScaleRotate, Affine, OpticalDistortion (bilinear) vs OpenCV:
//   1 (the same 1/32-pixel quantisation and 15-bit weights; float rounding
//   of the map may move a coordinate by one step).
//   Affine with shear, nearest, vs torchvision (PIL): a pixel exactly halfway
//   between two source pixels may round either way, so at most 0.5% of
//   values may differ.
#include <gtest/gtest.h>

#include "data/augment/ops.h"
#include "data/augment/resize.h"
#include "data/decode.h"
#include "tests/data/image_oracle.h"

namespace ember::test {
namespace {

Image photo(const std::string& name) { return read_image(shared_data() + "/photos/" + name); }

// The photos the tests run on: an RGB JPEG, an RGB PNG, a grey image.
std::vector<std::pair<std::string, Image>> photos() {
  Image parrot = photo("parrot.jpg"), chelsea = photo("chelsea.png");
  return {{"parrot.jpg", parrot}, {"chelsea.png", chelsea}, {"chelsea grey", convert_channels(chelsea, 1)}};
}

json fill_json(int v) { return json::array({v, v, v, v}); }

TEST(Flips, ExactAgainstBoth) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  for (auto& [name, img] : photos()) {
    expect_close(hflip(img), albu().call_image("a.hflip", {}, img), 0, "hflip vs A " + name);
    expect_close(vflip(img), albu().call_image("a.vflip", {}, img), 0, "vflip vs A " + name);
    expect_close(hflip(img), tv().call_image("t.hflip", {}, img), 0, "hflip vs T " + name);
    expect_close(vflip(img), tv().call_image("t.vflip", {}, img), 0, "vflip vs T " + name);
    for (int k = 0; k < 4; ++k) {
      expect_close(rot90(img, k), albu().call_image("a.rot90", {{"k", k}}, img), 0, "rot90 vs A " + name);
      expect_close(rot90(img, k), tv().call_image("t.rot90", {{"k", k}}, img), 0, "rot90 vs torch.rot90 " + name);
    }
  }
}

// hflip's vector path moves five RGB pixels at a time and leaves the ends to
// a scalar loop: every width from 1 to 40 against a pixel-by-pixel reversal.
TEST(Flips, HorizontalEveryWidth) {
  Rng rng(5);
  for (int c : {1, 3, 4})
    for (int w = 1; w <= 40; ++w) {
      Image img(3, w, c), want(3, w, c);
      for (uint8_t& v : img.pixels) v = static_cast<uint8_t>(rng.next() >> 56);
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < w; ++x)
          for (int ch = 0; ch < c; ++ch) want.at(y, x, ch) = img.at(y, w - 1 - x, ch);
      EXPECT_EQ(hflip(img).pixels, want.pixels) << "width " << w << ", " << c << " channels";
    }
}

// rot90 and transpose go in one tiled pass per channel count, half a turn
// as one reversal: every shape up to 37x37 (tiles are 32) against numpy's
// definition, pixel by pixel.
TEST(Flips, QuarterTurnsEveryShape) {
  Rng rng(9);
  for (int c : {1, 3, 4})
    for (int h = 1; h <= 37; h += (h < 8 ? 1 : 7))
      for (int w = 1; w <= 37; w += (w < 8 ? 1 : 5)) {
        Image img(h, w, c);
        for (uint8_t& v : img.pixels) v = static_cast<uint8_t>(rng.next() >> 56);
        std::vector<Image> want(4, Image(w, h, c));
        want[2] = Image(h, w, c);
        Image tr(w, h, c);
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) {
              want[1].at(w - 1 - x, y, ch) = img.at(y, x, ch);  // counter-clockwise
              want[2].at(h - 1 - y, w - 1 - x, ch) = img.at(y, x, ch);
              want[3].at(x, h - 1 - y, ch) = img.at(y, x, ch);
              tr.at(x, y, ch) = img.at(y, x, ch);
            }
        want[0] = img;
        const std::string shape = std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c);
        for (int k = 0; k < 4; ++k) EXPECT_EQ(rot90(img, k).pixels, want[static_cast<size_t>(k)].pixels) << "k=" << k << " " << shape;
        EXPECT_EQ(rot90(img, -1).pixels, want[3].pixels) << shape;
        EXPECT_EQ(transpose_image(img).pixels, tr.pixels) << shape;
        EXPECT_EQ(rot90(img, 1).height, w);
      }
}

TEST(Crops, ExactAgainstBoth) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  for (auto& [name, img] : photos()) {
    RandomCrop rc(101, 77);
    Rng rng(3);
    for (int i = 0; i < 3; ++i) {
      RandomCrop::Params q = rc.draw(img, rng);
      expect_close(rc.apply_with(img, q),
                   albu().call_image("a.random_crop", {{"h", 101}, {"w", 77}, {"h_start", q.h_start}, {"w_start", q.w_start}}, img),
                   0, "RandomCrop vs A " + name);
    }
    CropBox b = random_crop_box(img.height, img.width, 50, 60, 0.3, 0.9);
    expect_close(crop(img, b.y, b.x, b.h, b.w),
                 tv().call_image("t.crop", {{"top", b.y}, {"left", b.x}, {"h", 50}, {"w", 60}}, img), 0,
                 "crop vs T " + name);
    Rng r0;
    expect_close(CenterCrop(100, 80).apply_image(img, r0), albu().call_image("a.center_crop", {{"h", 100}, {"w", 80}}, img), 0,
                 "CenterCrop vs A " + name);
    // torchvision rounds (H - h) / 2 half to even; with even differences it agrees.
    int h = img.height - 2 * (img.height / 4), w = img.width - 2 * (img.width / 4);
    expect_close(CenterCrop(h, w).apply_image(img, r0), tv().call_image("t.center_crop", {{"h", h}, {"w", w}}, img), 0,
                 "CenterCrop vs T " + name);
  }
}

TEST(Pad, ExactAgainstBoth) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  Image img = crop(photo("parrot.jpg"), 10, 20, 40, 30);
  for (BorderMode m : {BorderMode::Constant, BorderMode::Replicate, BorderMode::Reflect, BorderMode::Wrap, BorderMode::Reflect101}) {
    json a{{"top", 7}, {"bottom", 3}, {"left", 5}, {"right", 11}, {"border", static_cast<int>(m)}, {"value", {17, 100, 200, 0}}};
    expect_close(pad(img, 7, 3, 5, 11, m, {17, 100, 200, 0}), albu().call_image("a.pad", a, img), 0,
                 "pad vs cv2.copyMakeBorder mode " + std::to_string(static_cast<int>(m)));
  }
  const std::pair<BorderMode, const char*> tv_modes[] = {{BorderMode::Constant, "constant"}, {BorderMode::Replicate, "edge"},
                                                         {BorderMode::Reflect101, "reflect"}, {BorderMode::Reflect, "symmetric"}};
  for (auto [m, name] : tv_modes) {
    json a{{"top", 7}, {"bottom", 3}, {"left", 5}, {"right", 11}, {"fill", m == BorderMode::Constant ? 9 : 0}, {"mode", name}};
    expect_close(pad(img, 7, 3, 5, 11, m, {9, 9, 9, 9}), tv().call_image("t.pad", a, img), 0, std::string("pad vs T ") + name);
  }
  Rng r;
  json a{{"min_height", 64}, {"min_width", 45}, {"border", 4}, {"value", fill_json(0)}};
  expect_close(PadIfNeeded(64, 45, BorderMode::Reflect101, {}).apply_image(img, r), albu().call_image("a.pad_if_needed", a, img),
               0, "PadIfNeeded vs A");
}

TEST(Resize, AgainstAlbumentationsAndTorchvision) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  const std::pair<int, int> sizes[] = {{256, 256}, {97, 131}, {600, 410}, {224, 300}};
  for (auto& [name, img] : photos()) {
    for (auto [h, w] : sizes) {
      std::string sz = " " + name + " -> " + std::to_string(h) + "x" + std::to_string(w);
      expect_close(resize(img, h, w, Interpolation::Nearest), albu().call_image("a.resize", {{"h", h}, {"w", w}, {"interpolation", 0}}, img),
                   0, "Resize nearest vs A" + sz);
      expect_close(resize(img, h, w, Interpolation::Linear, false),
                   albu().call_image("a.resize", {{"h", h}, {"w", w}, {"interpolation", 1}}, img), 1, "Resize linear vs A" + sz);
      expect_close(resize(img, h, w, Interpolation::Area), albu().call_image("a.resize", {{"h", h}, {"w", w}, {"interpolation", 3}}, img),
                   1, "Resize area vs A" + sz);
      expect_close(resize(img, h, w, Interpolation::Linear, true),
                   tv().call_image("t.resize", {{"h", h}, {"w", w}, {"interpolation", "linear"}}, img), 0,
                   "Resize antialiased vs T" + sz);  // PIL's integer arithmetic: byte-exact
    }
  }
}

// The antialiased (PIL) resize runs RGB and RGBA rows in vector registers
// (a pixel's channels side by side) and its vertical pass 16 bytes at a
// time, the OpenCV-style linear one (and area when enlarging) RGB rows one
// or two pixels per vector, leaving row ends to scalar loops; one channel
// alone takes the scalar loops only. Every channel of a 3- or 4-channel
// resize must equal the resize of that channel alone, for every output width
// from 1 to 40 (and heights around the 16-byte blocks), shrinking and
// enlarging.
TEST(Resize, VectorRowsEqualOneChannelAlone) {
  Rng rng(11);
  for (int channels : {3, 4}) {
    for (auto [sh, sw] : {std::pair<int, int>{23, 37}, {5, 3}, {40, 61}}) {
      Image src(sh, sw, channels);
      for (auto& v : src.pixels) v = static_cast<uint8_t>(rng.randint(0, 255));
      std::vector<Image> planes;
      for (int c = 0; c < channels; ++c) {
        Image plane(sh, sw, 1);
        for (int y = 0; y < sh; ++y)
          for (int x = 0; x < sw; ++x) plane.at(y, x, 0) = src.at(y, x, c);
        planes.push_back(plane);
      }
      for (int ow = 1; ow <= 40 * 3; ++ow) {
        const int oh = 1 + (ow * 7) % 45;
        const Interpolation interp = ow <= 80 ? Interpolation::Linear : Interpolation::Area;
        const bool antialias = ow <= 40;  // then the linear one, then area (enlarging where ow - 80 > sw)
        const int w = ow <= 40 ? ow : ow <= 80 ? ow - 40 : ow - 80;
        const Image out = resize(src, oh, w, interp, antialias);
        for (int c = 0; c < channels; ++c) {
          const Image alone = resize(planes[static_cast<size_t>(c)], oh, w, interp, antialias);
          int bad = 0;
          for (int y = 0; y < oh; ++y)
            for (int x = 0; x < w; ++x)
              if (out.at(y, x, c) != alone.at(y, x, 0) && ++bad <= 2)
                ADD_FAILURE() << channels << " channels, " << sh << "x" << sw << " -> " << oh << "x" << w
                              << (antialias ? " antialiased" : interp == Interpolation::Area ? " area" : " linear")
                              << ", channel "
                              << c << " at (" << y << ", " << x << "): " << int{out.at(y, x, c)} << " against "
                              << int{alone.at(y, x, 0)} << " alone";
        }
      }
    }
  }
}

TEST(RandomResizedCrop, SameParametersSameOutput) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  Image img = photo("parrot.jpg");
  RandomResizedCrop cv_op(224, 224, {0.08, 1}, {0.75, 4.0 / 3}, Interpolation::Linear, false);
  RandomResizedCrop pil_op(224, 224, {0.08, 1}, {0.75, 4.0 / 3}, Interpolation::Linear, true);
  Rng rng(11);
  for (int i = 0; i < 4; ++i) {
    CropBox b = cv_op.draw(img, rng);
    // Albumentations places the crop at int((H - h + 1) * h_start).
    double hs = (b.y + 0.5) / (img.height - b.h + 1), ws = (b.x + 0.5) / (img.width - b.w + 1);
    json a{{"oh", 224}, {"ow", 224}, {"h", b.h}, {"w", b.w}, {"h_start", hs}, {"w_start", ws}};
    expect_close(cv_op.apply_with(img, b), albu().call_image("a.resized_crop", a, img), 1, "RandomResizedCrop vs A");
    json t{{"top", b.y}, {"left", b.x}, {"h", b.h}, {"w", b.w}, {"oh", 224}, {"ow", 224}};
    expect_close(pil_op.apply_with(img, b), tv().call_image("t.resized_crop", t, img), 1, "RandomResizedCrop vs T");
  }
}

TEST(Rotate, AgainstOpenCVAndPIL) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  for (auto& [name, img] : photos()) {
    for (double angle : {-37.5, 12.25, 90.0, 143.0}) {
      for (BorderMode m : {BorderMode::Reflect101, BorderMode::Constant, BorderMode::Replicate}) {
        for (Interpolation in : {Interpolation::Linear, Interpolation::Nearest}) {
          WarpStyle st{in, m, {10, 20, 30, 0}};
          json a{{"angle", angle}, {"interpolation", static_cast<int>(in)}, {"border", static_cast<int>(m)}, {"value", {10, 20, 30}}};
          expect_close(Rotate({-90, 90}, st).apply_with(img, angle), albu().call_image("a.rotate", a, img), 1,
                       "Rotate vs A " + name + " " + std::to_string(angle));
        }
      }
    }
  }
  // torchvision rotates PIL images about the same centre; nearest, black fill.
  Image img = photo("chelsea.png");
  Image mine = Rotate({0, 0}, WarpStyle{Interpolation::Nearest, BorderMode::Constant, {}}).apply_with(img, 30);
  ImageDiff d = diff(mine, tv().call_image("t.rotate", {{"angle", 30}, {"interpolation", "nearest"}, {"fill", 0}}, img));
  EXPECT_LE(d.mismatch_fraction, 0.005) << "Rotate nearest vs torchvision: " << d.mismatch_fraction;
}

TEST(Affine, AgainstOpenCVAndTorchvision) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  EMBER_NEED_ORACLE(tv());
  Image img = photo("parrot.jpg");
  // ShiftScaleRotate is Albumentations' own op with the same matrix.
  Affine::Ranges r;
  Affine ssr("ShiftScaleRotate", r, WarpStyle{});
  for (auto [angle, scale, dx, dy] : {std::tuple{20.0, 1.1, 0.05, -0.03}, std::tuple{-45.0, 0.8, -0.0625, 0.0625}}) {
    AffineParams p{angle, scale, scale, dx * img.width, dy * img.height, 0, 0};
    json a{{"angle", angle}, {"scale", scale}, {"dx", dx}, {"dy", dy}, {"interpolation", 1}, {"border", 4}, {"value", nullptr}};
    expect_close(ssr.apply_with(img, p), albu().call_image("a.shift_scale_rotate", a, img), 1, "ShiftScaleRotate vs A");
  }
  // Shear: the warp against cv2.warpAffine with Ember's matrix, and the
  // matrix against torchvision's affine (nearest, black fill).
  for (auto [sx, sy] : {std::pair{15.0, 0.0}, std::pair{-10.0, 8.0}}) {
    AffineParams p{25, 0.9, 0.9, 12, -7, sx, sy};
    Affine op("Affine", r, WarpStyle{Interpolation::Linear, BorderMode::Constant, {}});
    Affine2x3 m = affine_matrix(p, img.height, img.width);
    json a{{"matrix", m}, {"interpolation", 1}, {"border", 0}, {"value", {0, 0, 0}}};
    expect_close(op.apply_with(img, p), albu().call_image("a.warp_affine", a, img), 1, "Affine shear vs cv2.warpAffine");
    Affine near("Affine", r, WarpStyle{Interpolation::Nearest, BorderMode::Constant, {}});
    // torchvision's angle turns clockwise: Ember's angle 25 is torchvision's -25.
    json t{{"angle", -25}, {"translate", {12, -7}}, {"scale", 0.9}, {"shear", {sx, sy}}, {"interpolation", "nearest"}, {"fill", 0}};
    ImageDiff d = diff(near.apply_with(img, p), tv().call_image("t.affine", t, img));
    EXPECT_LE(d.mismatch_fraction, 0.005) << "Affine shear nearest vs torchvision: " << 100 * d.mismatch_fraction << "% differ";
  }
}

TEST(OpticalDistortion, SameParametersSameOutput) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(albu());
  for (auto& [name, img] : photos()) {
    OpticalDistortion op({-0.5, 0.5}, {-0.05, 0.05}, WarpStyle{});
    for (OpticalDistortion::Params q : {OpticalDistortion::Params{0.3, 5, -3}, OpticalDistortion::Params{-0.45, -7, 2},
                                        OpticalDistortion::Params{0.05, 0, 0}}) {
      json a{{"k", q.k}, {"dx", q.dx}, {"dy", q.dy}, {"interpolation", 1}, {"border", 4}, {"value", nullptr}};
      expect_close(op.apply_with(img, q), albu().call_image("a.optical_distortion", a, img), 1, "OpticalDistortion vs A " + name);
    }
  }
}

}  // namespace
}  // namespace ember::test
