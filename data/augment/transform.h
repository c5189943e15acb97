// Transform: one augmentation op with its probability `p`, and the
// containers Compose, OneOf and SomeOf (Albumentations' semantics).
//
// An op draws its random parameters from the Rng it is given and then calls
// a deterministic kernel with them; each random op also exposes
// `draw(image, rng)` and `apply_with(image, params)`, so a test (or a user)
// can apply it with fixed parameters. Ops run on a Sample: an 8-bit image
// until an op turns it into a float tensor (Normalize, ToTensor, Rescale).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/augment/rng.h"
#include "data/image.h"

namespace ember {

struct Sample {
  Image image;
  // The caller's image, lent by Pipeline::run(const Image&): ops read it in
  // place of `image` until the first one writes a result, so an op pays for
  // its own output only, never for a defensive copy of its input.
  const Image* lent = nullptr;
  // Set by Normalize / Rescale (float32 [H, W, C]) or ToTensor ([C, H, W]);
  // from then on `image` is empty.
  Tensor tensor;
  bool chw = false;
  bool is_tensor() const { return tensor.defined(); }
  const Image& current() const { return lent ? *lent : image; }
  void set_image(Image img) {
    image = std::move(img);
    lent = nullptr;
  }
  void set_tensor(Tensor t, bool is_chw) {
    tensor = std::move(t);
    chw = is_chw;
    image = Image();
    lent = nullptr;
  }
};

class Transform {
 public:
  Transform(std::string name, double p) : name_(std::move(name)), p_(p) {}
  virtual ~Transform() = default;
  // Draws whether to run (probability p), then runs.
  void operator()(Sample& s, Rng& rng) const {
    if (rng.bernoulli(p_)) apply(s, rng);
  }
  // Runs unconditionally, drawing the op's own parameters.
  virtual void apply(Sample& s, Rng& rng) const = 0;
  const std::string& name() const { return name_; }
  double p() const { return p_; }

 protected:
  // The sample's image; throws naming the op if it is already a tensor.
  const Image& image_of(const Sample& s) const;

 private:
  std::string name_;
  double p_;
};

using TransformPtr = std::shared_ptr<const Transform>;

// An op that only changes the image, given as a function of (image, rng).
class ImageTransform : public Transform {
 public:
  using Transform::Transform;
  void apply(Sample& s, Rng& rng) const override;
  virtual Image apply_image(const Image& image, Rng& rng) const = 0;
};

class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> ops, double p = 1.0) : Transform("Compose", p), ops_(std::move(ops)) {}
  void apply(Sample& s, Rng& rng) const override;
  const std::vector<TransformPtr>& ops() const { return ops_; }

 private:
  std::vector<TransformPtr> ops_;
};

// Picks one child, with probability proportional to the children's p, and
// runs it unconditionally (Albumentations' OneOf).
class OneOf : public Transform {
 public:
  explicit OneOf(std::vector<TransformPtr> ops, double p = 0.5);
  void apply(Sample& s, Rng& rng) const override;

 private:
  std::vector<TransformPtr> ops_;
  std::vector<double> cumulative_;
};

// Picks n children (weighted by their p; without replacement unless
// `replace`) and runs them unconditionally, in the order listed.
class SomeOf : public Transform {
 public:
  SomeOf(std::vector<TransformPtr> ops, int n, bool replace = false, double p = 1.0);
  void apply(Sample& s, Rng& rng) const override;

 private:
  std::vector<TransformPtr> ops_;
  int n_;
  bool replace_;
};

// A whole pipeline: runs `root` on an image and returns the result as a
// tensor (uint8 [H, W, C] when no op made it a float tensor).
class Pipeline {
 public:
  Pipeline() : root_(std::make_shared<Compose>(std::vector<TransformPtr>{})) {}
  explicit Pipeline(std::shared_ptr<const Compose> root) : root_(std::move(root)) {}
  // The image is only read: the first op that runs writes a new one.
  Sample run(const Image& image, Rng& rng) const;
  Sample run(Image&& image, Rng& rng) const;
  Tensor operator()(const Image& image, Rng& rng) const;
  Tensor operator()(Image&& image, Rng& rng) const;
  const Compose& root() const { return *root_; }

 private:
  std::shared_ptr<const Compose> root_;
};

// A sample as a tensor: the float tensor when set, else uint8 [H, W, C].
Tensor sample_to_tensor(Sample s);

}  // namespace ember
