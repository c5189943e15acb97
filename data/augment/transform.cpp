#include "data/augment/transform.h"

#include <algorithm>
#include <numeric>

#include "engine/error.h"

namespace ember {

const Image& Transform::image_of(const Sample& s) const {
  if (s.is_tensor())
    fail("augment", name_, " needs an 8-bit image but runs after Normalize/ToTensor/Rescale; move it earlier");
  return s.current();
}

void ImageTransform::apply(Sample& s, Rng& rng) const { s.set_image(apply_image(image_of(s), rng)); }

void Compose::apply(Sample& s, Rng& rng) const {
  for (const TransformPtr& op : ops_) (*op)(s, rng);
}

OneOf::OneOf(std::vector<TransformPtr> ops, double p) : Transform("OneOf", p), ops_(std::move(ops)) {
  EMBER_CHECK(!ops_.empty(), "OneOf", "needs at least one op");
  double total = 0;
  for (const TransformPtr& op : ops_) cumulative_.push_back(total += op->p());
  EMBER_CHECK(total > 0, "OneOf", "the children's probabilities sum to 0");
  for (double& c : cumulative_) c /= total;
}

void OneOf::apply(Sample& s, Rng& rng) const {
  double u = rng.uniform();
  size_t i = static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
  ops_[std::min(i, ops_.size() - 1)]->apply(s, rng);
}

SomeOf::SomeOf(std::vector<TransformPtr> ops, int n, bool replace, double p)
    : Transform("SomeOf", p), ops_(std::move(ops)), n_(n), replace_(replace) {
  EMBER_CHECK(!ops_.empty(), "SomeOf", "needs at least one op");
  EMBER_CHECK(n_ >= 0 && (replace_ || n_ <= static_cast<int>(ops_.size())), "SomeOf", "n = ", n_,
              " is out of range for ", ops_.size(), " ops without replacement");
}

void SomeOf::apply(Sample& s, Rng& rng) const {
  std::vector<double> w;
  for (const TransformPtr& op : ops_) w.push_back(op->p());
  std::vector<size_t> chosen;
  for (int k = 0; k < n_; ++k) {
    double total = std::accumulate(w.begin(), w.end(), 0.0);
    if (total <= 0) break;
    double u = rng.uniform() * total;
    size_t i = 0;
    while (i + 1 < w.size() && (u -= w[i]) >= 0) ++i;
    chosen.push_back(i);
    if (!replace_) w[i] = 0;
  }
  if (!replace_) std::sort(chosen.begin(), chosen.end());
  for (size_t i : chosen) ops_[i]->apply(s, rng);
}

Sample Pipeline::run(const Image& image, Rng& rng) const {
  Sample s;
  s.lent = &image;
  (*root_)(s, rng);
  if (s.lent) s.set_image(*s.lent);  // no op wrote a result: the caller still owns the input
  return s;
}

Sample Pipeline::run(Image&& image, Rng& rng) const {
  Sample s;
  s.image = std::move(image);
  (*root_)(s, rng);
  return s;
}

Tensor Pipeline::operator()(const Image& image, Rng& rng) const { return sample_to_tensor(run(image, rng)); }

Tensor Pipeline::operator()(Image&& image, Rng& rng) const { return sample_to_tensor(run(std::move(image), rng)); }

Tensor sample_to_tensor(Sample s) { return s.is_tensor() ? s.tensor : image_to_tensor(s.image); }

}  // namespace ember
