// ONNX's matrix and normalisation ops: Gemm, MatMul, Softmax (both axis
// semantics), ReduceMean (axes as attribute or, from opset 18, input) and
// BatchNormalization (inference).
#include <cmath>

#include "engine/ember.h"
#include "weights/onnx/node_context.h"

namespace ember::onnx_import {
namespace {

// Y = alpha * A' B' + beta * C.
std::vector<Tensor> gemm_op(NodeContext& ctx) {
  ctx.allow_attrs({"alpha", "beta", "transA", "transB", "broadcast"});
  const Tensor& a0 = ctx.input(0);
  Tensor b = on_device_of(ctx.input(1), a0);
  Tensor c = ctx.has_input(2) ? on_device_of(ctx.input(2), a0) : Tensor();
  if (a0.dim() != 2 || b.dim() != 2) ctx.fail("A ", a0.shape(), " and B ", b.shape(), " must be 2-D");
  const double alpha = ctx.attr_float("alpha", 1.0f), beta = ctx.attr_float("beta", 1.0f);
  const bool ta = ctx.attr_int("transA", 0) != 0, tb = ctx.attr_int("transB", 0) != 0;
  Tensor a = ta ? a0.t() : a0;
  if (!ta && tb && alpha == 1.0 && beta == 1.0 && (!c.defined() || (c.dim() == 1 && c.size(0) == b.size(0)))) {
    return {linear(a, b, c)};  // the exported classifier head: x W^T + b
  }
  Tensor y = matmul(a, tb ? b.t() : b);
  if (alpha != 1.0) y = mul(y, alpha);
  if (c.defined() && beta != 0.0) y = add(y, beta == 1.0 ? c : mul(c, beta));
  return {y};
}

std::vector<Tensor> matmul_op(NodeContext& ctx) {
  ctx.allow_attrs({});
  const Tensor& a = ctx.input(0);
  return {matmul(a, on_device_of(ctx.input(1), a))};
}

// Opset < 13: the input is seen as 2-D [prod(shape[:axis]), prod(shape[axis:])]
// and normalised along its second dim; from 13, along `axis` alone.
std::vector<Tensor> softmax_op(NodeContext& ctx) {
  ctx.allow_attrs({"axis"});
  const Tensor& x = ctx.input(0);
  if (ctx.opset() >= 13) {
    return {softmax(x, wrap_axis(ctx, ctx.attr_int("axis", -1), x.dim()))};
  }
  const int64_t axis = x.dim() == 0 ? 0 : wrap_axis(ctx, ctx.attr_int("axis", 1), x.dim());
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.size(d);
  return {softmax(x.reshape({rows, x.numel() / std::max<int64_t>(rows, 1)}), 1).reshape(x.shape())};
}

std::vector<Tensor> reduce_mean_op(NodeContext& ctx) {
  ctx.allow_attrs({"axes", "keepdims", "noop_with_empty_axes"});
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = ctx.opset() >= 18 ? (ctx.has_input(1) ? ctx.input_ints(1) : std::vector<int64_t>{})
                                                : ctx.attr_ints("axes");
  const bool keep = ctx.attr_int("keepdims", 1) != 0;
  if (axes.empty() && ctx.attr_int("noop_with_empty_axes", 0) != 0) return {x};
  Dims dims;
  for (int64_t a : axes) {
    const int64_t d = wrap_axis(ctx, a, x.dim(), "axes value");
    if (std::find(dims.begin(), dims.end(), d) != dims.end()) ctx.fail("axes ", axes, " repeat an axis");
    dims.push_back(d);
  }
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  }
  return {mean(x, dims, keep)};
}

// training_mode = 1 (opset 14+): normalise with the batch's statistics and
// also return the updated running ones. ONNX's momentum weighs the old
// value (PyTorch's weighs the new), and its variances are population ones.
std::vector<Tensor> batch_norm_training(NodeContext& ctx, const Tensor& x, const Tensor& scale, const Tensor& bias,
                                        const Tensor& m, const Tensor& v, double eps) {
  const double momentum = ctx.attr_float("momentum", 0.9f);
  Dims dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  Tensor bm = mean(x, dims), bv = var(x, dims, 0);
  Tensor y = add(mul(div(sub(x, bm.reshape(s)), sqrt(add(bv.reshape(s), eps))), scale.reshape(s)), bias.reshape(s));
  std::vector<Tensor> out{y};
  if (ctx.wants_output(1)) out.push_back(add(mul(m, momentum), mul(bm, 1 - momentum)));
  if (ctx.wants_output(2)) out.push_back(add(mul(v, momentum), mul(bv, 1 - momentum)));
  return out;
}

// y = (x - mean) / sqrt(var + eps) * scale + B with the given statistics.
std::vector<Tensor> batch_norm_op(NodeContext& ctx) {
  ctx.allow_attrs({"epsilon", "momentum", "spatial", "is_test", "training_mode", "consumed_inputs"});
  const Tensor& x = ctx.input(0);
  Tensor scale = on_device_of(ctx.input(1), x), bias = on_device_of(ctx.input(2), x);
  Tensor m = on_device_of(ctx.input(3), x), v = on_device_of(ctx.input(4), x);
  const double eps = ctx.attr_float("epsilon", 1e-5f);
  if (x.dim() < 2) ctx.fail("input of shape ", x.shape(), " needs a channel dim");
  if (ctx.opset() >= 14 && ctx.attr_int("training_mode", 0) != 0) return batch_norm_training(ctx, x, scale, bias, m, v, eps);
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    if (ctx.wants_output(i)) ctx.fail("output ", i, " (a training statistic) is not supported outside training_mode");
  }
  const bool spatial = ctx.opset() >= 9 || ctx.attr_int("spatial", 1) != 0;
  if (spatial) {
    for (const Tensor* t : {&scale, &bias, &m, &v}) {
      if (t->dim() != 1 || t->size(0) != x.size(1)) {
        ctx.fail("scale, B, mean and var must have shape [", x.size(1), "], got ", t->shape());
      }
    }
    return {batch_norm(x, m, v, scale, bias, false, 0.1, eps)};
  }
  // spatial = 0 (opset < 9): statistics per activation, shape [C, D1, ...].
  Shape s{1};
  s.insert(s.end(), x.shape().begin() + 1, x.shape().end());
  auto r = [&](const Tensor& t) { return t.reshape(s); };
  return {add(mul(div(sub(x, r(m)), sqrt(add(r(v), eps))), r(scale)), r(bias))};
}

}  // namespace

void register_math_ops(OpTable& t) {
  t["Gemm"] = gemm_op;
  t["MatMul"] = matmul_op;
  t["Softmax"] = softmax_op;
  t["ReduceMean"] = reduce_mean_op;
  t["BatchNormalization"] = batch_norm_op;
}

}  // namespace ember::onnx_import
