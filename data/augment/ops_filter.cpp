// Blur, noise and dropout ops: parameter draws as Albumentations 1.3
// (MotionBlur's line, CoarseDropout's holes) and torchvision (RandomErasing).
#include <cmath>

#include "data/augment/ops.h"
#include "engine/error.h"

namespace ember {
namespace {

int random_odd(std::pair<int, int> limit, Rng& rng) {
  std::vector<int> odd;
  for (int k = limit.first; k <= limit.second; ++k)
    if (k % 2 == 1) odd.push_back(k);
  if (odd.empty()) fail("augment", "blur_limit [", limit.first, ", ", limit.second, "] holds no odd size");
  return odd[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(odd.size()) - 1))];
}

}  // namespace

GaussianBlur::Params GaussianBlur::draw(const Image&, Rng& rng) const {
  Params q;
  q.ksize = limit_.first == 0 && limit_.second == 0 ? 0 : random_odd(limit_, rng);
  q.sigma = rng.uniform(sigma_.first, sigma_.second);
  return q;
}

MotionBlur::Params MotionBlur::draw(const Image&, Rng& rng) const {
  const int k = random_odd(limit_, rng);
  int x1 = static_cast<int>(rng.randint(0, k - 1)), x2 = static_cast<int>(rng.randint(0, k - 1)), y1, y2;
  if (x1 == x2) {
    y1 = static_cast<int>(rng.randint(0, k - 1));
    do y2 = static_cast<int>(rng.randint(0, k - 1));
    while (y2 == y1);
  } else {
    y1 = static_cast<int>(rng.randint(0, k - 1));
    y2 = static_cast<int>(rng.randint(0, k - 1));
  }
  if (!allow_shifted_) {  // centre the line on the kernel, as Albumentations does
    auto make_odd = [](int& a, int& b) {
      if ((std::abs(a - b) + 1) % 2 != 1) (b > a ? b : a) -= 1;
    };
    make_odd(x1, x2);
    make_odd(y1, y2);
    const double centre = k / 2.0 - 0.5, dx = (x1 + x2) / 2.0 - centre, dy = (y1 + y2) / 2.0 - centre;
    x1 = static_cast<int>(x1 - dx), x2 = static_cast<int>(x2 - dx);
    y1 = static_cast<int>(y1 - dy), y2 = static_cast<int>(y2 - dy);
  }
  return Params{k, motion_kernel(k, x1, y1, x2, y2)};
}

std::vector<float> GaussNoise::draw(const Image& img, Rng& rng) const {
  const double sigma = std::sqrt(rng.uniform(var_.first, var_.second));
  return gauss_noise_field(img.height, img.width, per_channel_ ? img.channels : 1, mean_, sigma, rng);
}

std::vector<Box> CoarseDropout::draw(const Image& img, Rng& rng) const {
  std::vector<Box> holes;
  const int n = static_cast<int>(rng.randint(lim_.min_holes, lim_.max_holes));
  auto side = [&](double lo, double hi, int full) {
    if (hi < 1.0) return static_cast<int>(full * rng.uniform(lo, hi));  // fractions of the side
    return static_cast<int>(rng.randint(static_cast<int64_t>(lo), static_cast<int64_t>(hi)));
  };
  for (int i = 0; i < n; ++i) {
    int h = std::min(side(lim_.min_height, lim_.max_height, img.height), img.height);
    int w = std::min(side(lim_.min_width, lim_.max_width, img.width), img.width);
    int y = static_cast<int>(rng.randint(0, img.height - h)), x = static_cast<int>(rng.randint(0, img.width - w));
    holes.push_back(Box{x, y, x + w, y + h});
  }
  return holes;
}

std::optional<Box> RandomErasing::draw(const Image& img, Rng& rng) const {
  const int H = img.height, W = img.width;
  const double area = static_cast<double>(H) * W;
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target = area * rng.uniform(scale_.first, scale_.second);
    double aspect = std::exp(rng.uniform(std::log(ratio_.first), std::log(ratio_.second)));
    int h = static_cast<int>(std::nearbyint(std::sqrt(target * aspect)));
    int w = static_cast<int>(std::nearbyint(std::sqrt(target / aspect)));
    if (!(h < H && w < W)) continue;
    int y = static_cast<int>(rng.randint(0, H - h)), x = static_cast<int>(rng.randint(0, W - w));
    return Box{x, y, x + w, y + h};
  }
  return std::nullopt;
}

Image RandomErasing::apply_image(const Image& img, Rng& rng) const {
  std::optional<Box> b = draw(img, rng);
  if (!b) return img;
  if (!random_) return fill_boxes(img, {*b}, value_);
  Image out = img;
  for (int y = b->y1; y < b->y2; ++y) {
    uint8_t* d = out.row(y) + int64_t{b->x1} * img.channels;
    for (int64_t i = 0; i < int64_t{b->x2 - b->x1} * img.channels; ++i) d[i] = static_cast<uint8_t>(rng.next() >> 56);
  }
  return out;
}

}  // namespace ember
