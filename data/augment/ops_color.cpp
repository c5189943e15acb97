// Colour ops: ColorJitter draws as torchvision's ColorJitter.get_params
// (a random order of the four adjustments, each factor uniform in its range).
#include <algorithm>

#include "data/augment/ops.h"

namespace ember {

ColorJitterParams ColorJitter::draw(const Image&, Rng& rng) const {
  ColorJitterParams q;
  for (int i = 3; i > 0; --i) std::swap(q.order[static_cast<size_t>(i)], q.order[static_cast<size_t>(rng.randint(0, i))]);
  q.brightness = b_.first == b_.second ? b_.first : rng.uniform(b_.first, b_.second);
  q.contrast = c_.first == c_.second ? c_.first : rng.uniform(c_.first, c_.second);
  q.saturation = s_.first == s_.second ? s_.first : rng.uniform(s_.first, s_.second);
  q.hue = h_.first == h_.second ? h_.first : rng.uniform(h_.first, h_.second);
  return q;
}

}  // namespace ember
