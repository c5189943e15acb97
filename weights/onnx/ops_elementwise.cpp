// Element-wise ONNX ops: Add, Sub, Mul, Div (NumPy broadcasting, and the
// legacy broadcast/axis attributes of opsets < 7), Relu, Sigmoid,
// HardSigmoid, HardSwish, Clip (bounds as attributes before opset 11, as
// optional inputs from 11), Identity and Dropout (inference: identity).
#include <cfloat>

#include "engine/ember.h"
#include "weights/onnx/node_context.h"

namespace ember::onnx_import {
namespace {

// Opset < 7: with broadcast=1, B's dims align with A's starting at `axis`
// (default: B's trailing dims match A's, which NumPy rules already cover).
Tensor legacy_broadcast(NodeContext& ctx, const Tensor& a, const Tensor& b) {
  if (ctx.opset() >= 7 || !ctx.attr_int("broadcast", 0) || !ctx.has_attr("axis")) return b;
  const int64_t axis = wrap_axis(ctx, ctx.attr_int("axis"), a.dim());
  if (axis + b.dim() > a.dim()) ctx.fail("B of shape ", b.shape(), " does not fit A ", a.shape(), " at axis ", axis);
  Shape s = b.shape();
  s.insert(s.end(), static_cast<size_t>(a.dim() - axis - b.dim()), 1);
  return b.reshape(s);
}

template <Tensor (*Op)(const Tensor&, const Tensor&)>
std::vector<Tensor> binary(NodeContext& ctx) {
  ctx.allow_attrs({"broadcast", "axis", "consumed_inputs"});
  const Tensor& a = ctx.input(0);
  Tensor b = on_device_of(legacy_broadcast(ctx, a, ctx.input(1)), a);
  Tensor a2 = on_device_of(a, b);
  return {Op(a2, b)};
}

Tensor add2(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor sub2(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor mul2(const Tensor& a, const Tensor& b) { return mul(a, b); }
// ONNX divides integers with truncation, as C does; Ember's div is true division.
Tensor div2(const Tensor& a, const Tensor& b) {
  if (is_integral(a.dtype()) && is_integral(b.dtype())) {
    Tensor q = div(a.to(DType::Float64), b.to(DType::Float64));
    return (sign(q) * floor(abs(q))).to(promote_types(a.dtype(), b.dtype()));
  }
  return div(a, b);
}

std::vector<Tensor> relu_op(NodeContext& ctx) {
  ctx.allow_attrs({"consumed_inputs"});
  return {relu(ctx.input(0))};
}

std::vector<Tensor> sigmoid_op(NodeContext& ctx) {
  ctx.allow_attrs({"consumed_inputs"});
  return {sigmoid(ctx.input(0))};
}

// max(0, min(1, alpha * x + beta)); PyTorch's hardsigmoid is alpha 1/6.
std::vector<Tensor> hardsigmoid_op(NodeContext& ctx) {
  ctx.allow_attrs({"alpha", "beta", "consumed_inputs"});
  const double alpha = ctx.attr_float("alpha", 0.2f), beta = ctx.attr_float("beta", 0.5f);
  return {clamp(add(mul(ctx.input(0), alpha), beta), 0.0, 1.0)};
}

std::vector<Tensor> hardswish_op(NodeContext& ctx) {
  ctx.allow_attrs({});
  return {hardswish(ctx.input(0))};
}

std::vector<Tensor> clip_op(NodeContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::optional<Scalar> lo, hi;
  auto bound = [&](double v) { return is_floating(x.dtype()) ? Scalar(v) : Scalar(static_cast<int64_t>(v)); };
  if (ctx.opset() < 11) {
    ctx.allow_attrs({"min", "max", "consumed_inputs"});
    lo = bound(ctx.attr_float("min", -FLT_MAX));
    hi = bound(ctx.attr_float("max", FLT_MAX));
  } else {
    ctx.allow_attrs({});
    if (ctx.has_input(1)) lo = bound(ctx.input_scalar(1));
    if (ctx.has_input(2)) hi = bound(ctx.input_scalar(2));
  }
  if (!lo && !hi) return {x};
  return {clamp(x, lo, hi)};
}

std::vector<Tensor> identity_op(NodeContext& ctx) {
  ctx.allow_attrs({});
  return {ctx.input(0)};
}

// Inference only: the output is the input, the mask all true.
std::vector<Tensor> dropout_op(NodeContext& ctx) {
  ctx.allow_attrs({"ratio", "is_test", "seed", "consumed_inputs"});
  if (ctx.opset() < 7 && ctx.has_attr("is_test") && ctx.attr_int("is_test") == 0) {
    ctx.unsupported("is_test", 0, "training-mode dropout");
  }
  if (ctx.opset() >= 12 && ctx.has_input(2) && ctx.input_scalar(2) != 0) {
    const double ratio = ctx.has_input(1) ? ctx.input_scalar(1) : 0.5;
    if (ratio != 0) ctx.fail("training_mode = true is not supported (training-mode dropout)");
  }
  const Tensor& x = ctx.input(0);
  std::vector<Tensor> out{x};
  if (ctx.wants_output(1)) {
    // The mask is bool from opset 10 on, the input's type before.
    out.push_back(ctx.opset() >= 10 ? ones(x.shape(), TensorOptions(DType::Bool, x.device())) : ones_like(x));
  }
  return out;
}

}  // namespace

void register_elementwise_ops(OpTable& t) {
  t["Add"] = binary<add2>;
  t["Sub"] = binary<sub2>;
  t["Mul"] = binary<mul2>;
  t["Div"] = binary<div2>;
  t["Relu"] = relu_op;
  t["Sigmoid"] = sigmoid_op;
  t["HardSigmoid"] = hardsigmoid_op;
  t["HardSwish"] = hardswish_op;
  t["Clip"] = clip_op;
  t["Identity"] = identity_op;
  t["Dropout"] = dropout_op;
}

}  // namespace ember::onnx_import
