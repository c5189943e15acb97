// Loss modules (torch.nn.CrossEntropyLoss, ...): a loss is configured once
// and then applied to (prediction, target). NT-Xent is SimCLR's contrastive
// loss over two batches of embeddings of the same images.
#pragma once

#include <memory>
#include <string>

#include "engine/ops/loss.h"

namespace ember {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual Tensor operator()(const Tensor& prediction, const Tensor& target) const = 0;
  virtual std::string name() const = 0;
};

class CrossEntropyLoss final : public Loss {
 public:
  explicit CrossEntropyLoss(Tensor weight = Tensor(), double label_smoothing = 0.0, int64_t ignore_index = -100,
                            Reduction reduction = Reduction::Mean)
      : weight(std::move(weight)), label_smoothing(label_smoothing), ignore_index(ignore_index), reduction(reduction) {}
  Tensor operator()(const Tensor& logits, const Tensor& target) const override {
    return cross_entropy(logits, target, weight.defined() ? weight.to(logits.device(), logits.dtype()) : Tensor(),
                         ignore_index, reduction, label_smoothing);
  }
  std::string name() const override { return "cross_entropy"; }
  Tensor weight;
  double label_smoothing;
  int64_t ignore_index;
  Reduction reduction;
};

class NLLLoss final : public Loss {
 public:
  explicit NLLLoss(Tensor weight = Tensor(), int64_t ignore_index = -100, Reduction reduction = Reduction::Mean)
      : weight(std::move(weight)), ignore_index(ignore_index), reduction(reduction) {}
  Tensor operator()(const Tensor& logp, const Tensor& target) const override {
    return nll_loss(logp, target, weight.defined() ? weight.to(logp.device(), logp.dtype()) : Tensor(), ignore_index,
                    reduction);
  }
  std::string name() const override { return "nll"; }
  Tensor weight;
  int64_t ignore_index;
  Reduction reduction;
};

// Binary cross entropy on logits; the target is converted to the logits' dtype
// (labels often arrive as int64 class indices 0/1) and reshaped to match a
// [N, 1] logit column.
class BCEWithLogitsLoss final : public Loss {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = Tensor(), Tensor pos_weight = Tensor(), Reduction reduction = Reduction::Mean)
      : weight(std::move(weight)), pos_weight(std::move(pos_weight)), reduction(reduction) {}
  Tensor operator()(const Tensor& logits, const Tensor& target) const override;
  std::string name() const override { return "bce_with_logits"; }
  Tensor weight, pos_weight;
  Reduction reduction;
};

class MSELoss final : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : reduction(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override {
    return mse_loss(input, target, reduction);
  }
  std::string name() const override { return "mse"; }
  Reduction reduction;
};

class L1Loss final : public Loss {
 public:
  explicit L1Loss(Reduction reduction = Reduction::Mean) : reduction(reduction) {}
  Tensor operator()(const Tensor& input, const Tensor& target) const override { return l1_loss(input, target, reduction); }
  std::string name() const override { return "l1"; }
  Reduction reduction;
};

// NT-Xent (SimCLR, Chen et al. 2020): for embeddings z1, z2 [N, D] of two views
// of the same N images, the 2N x 2N cosine similarities divided by the
// temperature, each row's own entry masked out, form logits whose target is
// the other view of the same image; the loss is their mean cross entropy.
Tensor nt_xent_loss(const Tensor& z1, const Tensor& z2, double temperature = 0.5);

// By name: "cross_entropy", "nll", "bce_with_logits", "mse", "l1".
std::unique_ptr<Loss> make_loss(const std::string& name, double label_smoothing = 0.0);

}  // namespace ember
