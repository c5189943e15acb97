#include "engine/ops/loss.h"

#include "engine/autocast.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"

namespace ember {
namespace {

Tensor apply_reduction(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  return loss;
}

// Moves the class dim (1) last and flattens: [N, C, d...] -> [N*d..., C].
Tensor classes_last(const Tensor& x) {
  if (x.dim() == 2) return x;
  Shape perm{0};
  for (int64_t d = 2; d < x.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  return x.permute(perm).reshape({-1, x.size(1)});
}

void check_class_target(const Tensor& input, const Tensor& target, const char* op) {
  EMBER_CHECK(input.dim() >= 2, op, "expected input of shape [N, C] or [N, C, d1, ...], got ", input.shape());
  EMBER_CHECK(target.dtype() == DType::Int64 || target.dtype() == DType::Int32, op,
              "expected class indices as an int64 target, got ", dtype_name(target.dtype()));
  Shape want = input.shape();
  want.erase(want.begin() + 1);
  EMBER_CHECK(target.shape() == want, op, "target of shape ", target.shape(), " does not match input of shape ",
              input.shape(), " (expected target shape ", want, ")");
  EMBER_CHECK(target.device() == input.device(), op, "target on ", target.device().str(), " but input on ",
              input.device().str());
}

void check_weight(const Tensor& weight, int64_t C, const Tensor& input, const char* op) {
  if (!weight.defined()) return;
  EMBER_CHECK(weight.dim() == 1 && weight.size(0) == C, op, "class weight of shape ", weight.shape(),
              " does not match the ", C, " classes of input of shape ", input.shape());
  EMBER_CHECK(weight.device() == input.device(), op, "class weight on ", weight.device().str(), " but input on ",
              input.device().str());
}

// float32 for 16-bit tensors: the summed weights and losses of the mean
// (over 65504 counted targets in a float16 segmentation batch) would
// overflow float16; PyTorch accumulates them in float32 too.
Tensor widened(const Tensor& t) { return is_16bit_float(t.dtype()) ? t.to(DType::Float32) : t; }

// The summed weights of the samples that count, in float32 for 16-bit losses.
Tensor total_weight_of(const Tensor& used) { return sum(widened(used)); }

// [M] per-sample losses under a reduction; the mean divides by the summed
// weights of the samples that count (PyTorch's weighted mean), and
// per_sample_grad is its backward: the upstream gradient for each sample.
Tensor reduce_weighted(const Tensor& losses, const Tensor& total_weight, Reduction red) {
  if (red == Reduction::None) return losses;
  if (red == Reduction::Sum) return sum(losses);
  return div(sum(widened(losses)), total_weight).to(losses.dtype());
}

Tensor per_sample_grad(const Tensor& g, const Tensor& total_weight, Reduction red, int64_t M) {
  return red == Reduction::None ? g.reshape({M}).contiguous()
         : red == Reduction::Sum ? g.expand({M}).contiguous()
                                 : div(widened(g), total_weight).to(g.dtype()).expand({M}).contiguous();
}

// nll on [M, C] log-probabilities and [M] targets; returns the reduced loss
// (or [M] for None).
Tensor nll_2d(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t ignore_index, Reduction red) {
  const int64_t M = logp.size(0);
  Tensor lp = logp.detach().contiguous();
  Tensor tg = target.detach().to(DType::Int64).contiguous();
  Tensor w = weight.defined() ? weight.detach().to(logp.dtype()).contiguous() : Tensor();
  Tensor losses = empty({M}, TensorOptions(logp.dtype(), logp.device()));
  Tensor used = empty({M}, TensorOptions(logp.dtype(), logp.device()));
  if (M > 0) backend(logp.device()).nll_loss_forward(losses, used, lp, tg, w, ignore_index);
  Tensor total_weight = total_weight_of(used);
  Tensor out = reduce_weighted(losses, total_weight, red);
  if (any_requires_grad({logp})) {
    record("NllLossBackward", out, {logp},
           [tg, w, ignore_index, red, total_weight, C = logp.size(1), M](const Tensor& g, const NeedsGrad&) {
             Tensor per_sample = per_sample_grad(g, total_weight, red, M);
             Tensor grad = empty({M, C}, TensorOptions(g.dtype(), g.device()));
             if (M > 0) backend(g.device()).nll_loss_backward(grad, per_sample, tg, w, ignore_index);
             return std::vector<Tensor>{grad};
           });
  }
  return out;
}

// Cross-entropy with class targets in one fused kernel each way
// (Backend::cross_entropy_forward/backward): nothing of size N x C is kept
// but the logits. The per-sample losses carry PyTorch 1.13's label
// smoothing, (1 - e) nll + e / C smooth; both of its mean terms divide by
// the summed target weights (the count of counted targets without class
// weights), so the mean is sum(loss) / sum(weight_used). Returns [M] for
// Reduction::None.
Tensor fused_cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                           Reduction red, double label_smoothing) {
  const bool unbatched = logits.dim() == 1;
  Tensor rows = unbatched ? logits.unsqueeze(0) : classes_last(logits);  // [M, C]
  const int64_t M = rows.size(0), C = rows.size(1);
  Tensor x = rows.detach().contiguous();
  Tensor tg = target.detach().to(DType::Int64).reshape({-1}).contiguous();
  Tensor w = weight.defined() ? weight.detach().to(x.dtype()).contiguous() : Tensor();
  const TensorOptions opts(x.dtype(), x.device());
  Tensor losses = empty({M}, opts), used = empty({M}, opts), lse = empty({M}, opts);
  if (M > 0) backend(x.device()).cross_entropy_forward(losses, used, lse, x, tg, w, ignore_index, label_smoothing);
  Tensor total_weight = total_weight_of(used);
  Tensor out = reduce_weighted(losses, total_weight, red);
  if (any_requires_grad({rows})) {
    record("CrossEntropyBackward", out, {rows},
           [sx = Saved(x), lse, tg, w, ignore_index, red, total_weight, label_smoothing, M, C](
               const Tensor& g, const NeedsGrad&) {
             Tensor per_sample = per_sample_grad(g, total_weight, red, M);
             Tensor grad = empty({M, C}, TensorOptions(g.dtype(), g.device()));
             if (M > 0) {
               backend(g.device()).cross_entropy_backward(grad, per_sample, sx.get(), lse, tg, w, ignore_index,
                                                          label_smoothing);
             }
             return std::vector<Tensor>{grad};
           });
  }
  return out;
}

}  // namespace

Reduction parse_reduction(const std::string& name) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  fail("loss", "reduction must be 'none', 'mean' or 'sum', got '", name, "'");
}

Tensor nll_loss(const Tensor& logp_arg, const Tensor& target_in, const Tensor& weight_arg, int64_t ignore_index,
                Reduction reduction) {
  const char* op = "nll_loss";
  EMBER_CHECK(logp_arg.defined() && target_in.defined(), op, "got an undefined tensor");
  // The losses run in float32 under autocast (engine/autocast.h).
  const Tensor logp_in = autocast_to_float32(logp_arg), weight = autocast_to_float32(weight_arg);
  bool unbatched = logp_in.dim() == 1;
  Tensor logp = unbatched ? logp_in.unsqueeze(0) : logp_in;
  Tensor target = unbatched ? target_in.reshape({1}) : target_in;
  EMBER_CHECK(is_floating(logp.dtype()), op, "expected floating-point log-probabilities, got ",
              dtype_name(logp.dtype()));
  check_class_target(logp, target, op);
  check_weight(weight, logp.size(1), logp, op);
  Tensor out = nll_2d(classes_last(logp), target.reshape({-1}), weight, ignore_index, reduction);
  if (reduction == Reduction::None) out = out.reshape(target_in.shape());
  return out;
}

Tensor cross_entropy(const Tensor& logits_arg, const Tensor& target_arg, const Tensor& weight_arg,
                     int64_t ignore_index, Reduction reduction, double label_smoothing) {
  // The losses run in float32 under autocast (engine/autocast.h).
  const Tensor logits = autocast_to_float32(logits_arg), target = autocast_to_float32(target_arg),
               weight = autocast_to_float32(weight_arg);
  const char* op = "cross_entropy";
  EMBER_CHECK(logits.defined() && target.defined(), op, "got an undefined tensor");
  EMBER_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op, "label_smoothing must be in [0, 1], got ",
              label_smoothing);
  EMBER_CHECK(logits.dim() >= 1, op, "expected logits of shape [N, C, ...], got a 0-d tensor");
  const int64_t class_dim = logits.dim() == 1 ? 0 : 1;
  const int64_t C = logits.size(class_dim);
  check_weight(weight, C, logits, op);

  if (is_floating(target.dtype())) {  // probabilities
    Tensor logp = log_softmax(logits, class_dim);
    Shape wshape(logits.dim(), 1);  // class weights broadcast along the class dim
    wshape[class_dim] = C;
    EMBER_CHECK(target.shape() == logits.shape(), op, "probability target of shape ", target.shape(),
                " must match logits of shape ", logits.shape());
    Tensor t = label_smoothing > 0 ? add(mul(target, 1.0 - label_smoothing), label_smoothing / C) : target;
    Tensor prod = mul(logp, t);
    if (weight.defined()) prod = mul(prod, weight.reshape(wshape));
    Tensor loss = neg(sum(prod, {class_dim}));
    if (reduction == Reduction::Mean) return div(sum(loss), static_cast<double>(std::max<int64_t>(logits.numel() / C, 1)));
    return apply_reduction(loss, reduction);
  }

  if (logits.dim() >= 2) {
    check_class_target(logits, target, op);
  } else {
    EMBER_CHECK(target.dim() == 0 && (target.dtype() == DType::Int64 || target.dtype() == DType::Int32), op,
                "an unbatched input of shape ", logits.shape(), " needs one int64 class index, got a ",
                dtype_name(target.dtype()), " target of shape ", target.shape());
  }
  Tensor out = fused_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing);
  return reduction == Reduction::None ? out.reshape(target.shape()) : out;
}

Tensor binary_cross_entropy_with_logits(const Tensor& x_arg, const Tensor& y_arg, const Tensor& weight_arg,
                                        const Tensor& pos_weight_arg, Reduction reduction) {
  const Tensor x = autocast_to_float32(x_arg), y = autocast_to_float32(y_arg), weight = autocast_to_float32(weight_arg),
               pos_weight = autocast_to_float32(pos_weight_arg);
  const char* op = "binary_cross_entropy_with_logits";
  EMBER_CHECK(x.defined() && y.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.shape() == y.shape(), op, "target of shape ", y.shape(), " must match input of shape ", x.shape());
  EMBER_CHECK(is_floating(x.dtype()) && is_floating(y.dtype()), op, "needs floating-point input and target");
  // Stable form: (1 - y) x + lw * (log(1 + exp(-|x|)) + max(-x, 0)), lw = 1 + (pw - 1) y.
  Tensor stable = add(log1p(exp(neg(abs(x)))), clamp_min(neg(x), 0.0));
  Tensor loss;
  if (pos_weight.defined()) {
    Tensor log_weight = add(mul(sub(pos_weight, 1.0), y), 1.0);
    loss = add(mul(sub(wrap_scalar(1.0, y), y), x), mul(log_weight, stable));
  } else {
    loss = add(mul(sub(wrap_scalar(1.0, y), y), x), stable);
  }
  if (weight.defined()) loss = mul(loss, weight);
  return apply_reduction(loss, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  EMBER_CHECK(input.defined() && target.defined(), "mse_loss", "got an undefined tensor");
  Tensor d = sub(autocast_to_float32(input), autocast_to_float32(target));
  return apply_reduction(mul(d, d), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  EMBER_CHECK(input.defined() && target.defined(), "l1_loss", "got an undefined tensor");
  return apply_reduction(abs(sub(autocast_to_float32(input), autocast_to_float32(target))), reduction);
}

Tensor cosine_similarity(const Tensor& x1_arg, const Tensor& x2_arg, int64_t dim, double eps) {
  const Tensor x1 = autocast_to_float32(x1_arg), x2 = autocast_to_float32(x2_arg);
  EMBER_CHECK(x1.defined() && x2.defined(), "cosine_similarity", "got an undefined tensor");
  Shape shape = broadcast_shapes(x1.shape(), x2.shape(), "cosine_similarity");
  int64_t d = wrap_dim(dim, static_cast<int64_t>(shape.size()), "cosine_similarity");
  Tensor w12 = sum(mul(x1, x2), {d});
  Tensor w1 = sum(mul(x1, x1), {d});
  Tensor w2 = sum(mul(x2, x2), {d});
  return div(w12, sqrt(clamp_min(mul(w1, w2), eps * eps)));
}

}  // namespace ember
