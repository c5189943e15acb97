// ONNX ops that only rearrange: Flatten, Reshape, Transpose, Squeeze,
// Unsqueeze (axes as attribute before opset 13, as input from 13), Concat,
// Shape (with start/end from opset 15) and Constant. Views where possible;
// shapes are computed on the host.
#include <algorithm>

#include "engine/ember.h"
#include "weights/onnx/node_context.h"
#include "weights/onnx/proto_tensor.h"

namespace ember::onnx_import {
namespace {

std::vector<Tensor> flatten_op(NodeContext& ctx) {
  ctx.allow_attrs({"axis"});
  const Tensor& x = ctx.input(0);
  int64_t axis = ctx.attr_int("axis", 1);
  if (axis < -x.dim() || axis > x.dim()) ctx.fail("axis ", axis, " is out of range for rank ", x.dim());
  if (axis < 0) axis += x.dim();
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.size(d);
  int64_t cols = 1;
  for (int64_t d = axis; d < x.dim(); ++d) cols *= x.size(d);
  return {x.reshape({rows, cols})};
}

std::vector<Tensor> reshape_op(NodeContext& ctx) {
  ctx.allow_attrs({"shape", "allowzero", "consumed_inputs"});
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> spec = ctx.opset() >= 5 ? ctx.input_ints(1) : ctx.attr_ints("shape");
  const bool allow_zero = ctx.attr_int("allowzero", 0) != 0;
  Shape out(spec.size());
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allow_zero) {
      if (static_cast<int64_t>(i) >= x.dim()) ctx.fail("shape ", spec, ": 0 at position ", i, " has no input dim to copy");
      d = x.size(static_cast<int64_t>(i));
    }
    if (d == -1) {
      if (infer >= 0) ctx.fail("shape ", spec, " has more than one -1");
      infer = static_cast<int64_t>(i);
      continue;
    }
    if (d < 0) ctx.fail("shape ", spec, " has a negative dim");
    out[i] = d;
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) ctx.fail("cannot reshape ", x.shape(), " to ", spec);
    out[static_cast<size_t>(infer)] = x.numel() / known;
  }
  if (shape_numel(out) != x.numel()) ctx.fail("cannot reshape ", x.shape(), " to ", spec);
  return {x.reshape(out)};
}

std::vector<Tensor> transpose_op(NodeContext& ctx) {
  ctx.allow_attrs({"perm"});
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> perm = ctx.attr_ints("perm");
  if (perm.empty()) {
    for (int64_t d = x.dim() - 1; d >= 0; --d) perm.push_back(d);
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i) || sorted.size() != static_cast<size_t>(x.dim())) {
      ctx.fail("perm ", perm, " is not a permutation of the ", x.dim(), " dims");
    }
  }
  return {x.permute(perm)};
}

// Axes from the attribute (opset < 13) or the optional second input.
std::vector<int64_t> axes_of(NodeContext& ctx) {
  if (ctx.opset() >= 13) return ctx.has_input(1) ? ctx.input_ints(1) : std::vector<int64_t>{};
  return ctx.attr_ints("axes");
}

std::vector<Tensor> squeeze_op(NodeContext& ctx) {
  ctx.allow_attrs({"axes"});
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = axes_of(ctx);
  std::vector<bool> drop(static_cast<size_t>(x.dim()), axes.empty());
  if (axes.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) drop[static_cast<size_t>(d)] = x.size(d) == 1;
  }
  for (int64_t a : axes) {
    const int64_t d = wrap_axis(ctx, a, x.dim(), "axes value");
    if (x.size(d) != 1) ctx.fail("cannot squeeze dim ", d, " of size ", x.size(d), " (shape ", x.shape(), ")");
    drop[static_cast<size_t>(d)] = true;
  }
  Shape out;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!drop[static_cast<size_t>(d)]) out.push_back(x.size(d));
  }
  return {x.reshape(out)};
}

std::vector<Tensor> unsqueeze_op(NodeContext& ctx) {
  ctx.allow_attrs({"axes"});
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = axes_of(ctx);
  if (axes.empty()) ctx.fail("axes are required");
  const int64_t rank = x.dim() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    const int64_t d = wrap_axis(ctx, a, rank, "axes value");
    if (inserted[static_cast<size_t>(d)]) ctx.fail("axes ", axes, " repeat an axis");
    inserted[static_cast<size_t>(d)] = true;
  }
  Shape out;
  int64_t src = 0;
  for (int64_t d = 0; d < rank; ++d) out.push_back(inserted[static_cast<size_t>(d)] ? 1 : x.size(src++));
  return {x.reshape(out)};
}

std::vector<Tensor> concat_op(NodeContext& ctx) {
  ctx.allow_attrs({"axis"});
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input");
  std::vector<Tensor> parts;
  Device device = kCPU;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.input(i).device().is_cpu()) device = ctx.input(i).device();
  }
  for (size_t i = 0; i < ctx.num_inputs(); ++i) parts.push_back(ctx.input(i).to(device));
  const int64_t axis = wrap_axis(ctx, ctx.opset() < 4 ? ctx.attr_int("axis", 1) : ctx.attr_int("axis"), parts[0].dim());
  return {cat(parts, axis)};
}

std::vector<Tensor> shape_op(NodeContext& ctx) {
  ctx.allow_attrs({"start", "end"});
  const Shape& s = ctx.input(0).shape();
  const int64_t r = static_cast<int64_t>(s.size());
  auto clampi = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t start = clampi(ctx.attr_int("start", 0)), end = clampi(ctx.attr_int("end", r));
  std::vector<int64_t> v;
  for (int64_t i = start; i < end; ++i) v.push_back(s[static_cast<size_t>(i)]);
  return {from_vector(v, {static_cast<int64_t>(v.size())})};
}

std::vector<Tensor> constant_op(NodeContext& ctx) {
  ctx.allow_attrs({"value", "value_float", "value_floats", "value_int", "value_ints"});
  if (ctx.has_attr("value")) return {ctx.place(ctx.attr_tensor("value"))};
  if (ctx.has_attr("value_float")) return {ctx.place(scalar_tensor(static_cast<double>(ctx.attr_float("value_float", 0))))};
  if (ctx.has_attr("value_int")) return {scalar_tensor(ctx.attr_int("value_int"), DType::Int64)};
  if (ctx.has_attr("value_floats")) {
    std::vector<float> v = ctx.attr_floats("value_floats");
    return {ctx.place(from_vector(v, {static_cast<int64_t>(v.size())}))};
  }
  if (ctx.has_attr("value_ints")) {
    std::vector<int64_t> v = ctx.attr_ints("value_ints");
    return {from_vector(v, {static_cast<int64_t>(v.size())})};
  }
  ctx.fail("has no value attribute");
}

}  // namespace

void register_shape_ops(OpTable& t) {
  t["Flatten"] = flatten_op;
  t["Reshape"] = reshape_op;
  t["Transpose"] = transpose_op;
  t["Squeeze"] = squeeze_op;
  t["Unsqueeze"] = unsqueeze_op;
  t["Concat"] = concat_op;
  t["Shape"] = shape_op;
  t["Constant"] = constant_op;
}

}  // namespace ember::onnx_import
