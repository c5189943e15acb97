// Ops PyTorch's exporter emits around shapes and padding even in plain CNNs
// (F.pad at opset >= 11 becomes ConstantOfShape/Concat/Reshape/Slice/
// Transpose/Cast feeding Pad): Slice (attributes before opset 10, inputs
// from 10, negative steps), Cast and ConstantOfShape.
#include <algorithm>

#include "engine/ember.h"
#include "weights/onnx/node_context.h"
#include "weights/onnx/proto_tensor.h"

namespace ember::onnx_import {
namespace {

std::vector<Tensor> slice_op(NodeContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    ctx.allow_attrs({"starts", "ends", "axes"});
    starts = ctx.attr_ints("starts");
    ends = ctx.attr_ints("ends");
    axes = ctx.attr_ints("axes");
  } else {
    ctx.allow_attrs({});
    starts = ctx.input_ints(1);
    ends = ctx.input_ints(2);
    if (ctx.has_input(3)) axes = ctx.input_ints(3);
    if (ctx.has_input(4)) steps = ctx.input_ints(4);
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    ctx.fail("starts ", starts, ", ends ", ends, ", axes ", axes, " and steps ", steps, " differ in length");
  }
  Tensor y = x;
  std::vector<bool> seen(static_cast<size_t>(x.dim()), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t d = wrap_axis(ctx, axes[i], x.dim(), "axes value");
    if (seen[static_cast<size_t>(d)]) ctx.fail("axes ", axes, " repeat an axis");
    seen[static_cast<size_t>(d)] = true;
    const int64_t n = y.size(d), step = steps[i];
    if (step == 0) ctx.fail("steps must not be 0");
    // Negative values count from the end; then clamp as NumPy does.
    int64_t start = starts[i] < 0 ? starts[i] + n : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + n : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, n);
      end = std::clamp<int64_t>(end, 0, n);
      y = y.slice(d, start, std::max(start, end), step);
    } else {
      start = std::clamp<int64_t>(start, 0, n - 1);
      end = std::clamp<int64_t>(end, -1, n - 1);
      std::vector<Tensor> parts;
      for (int64_t k = start; k > end; k += step) parts.push_back(y.narrow(d, k, 1));
      y = parts.empty() ? y.narrow(d, 0, 0) : parts.size() == 1 ? parts[0] : cat(parts, d);
    }
  }
  return {y};
}

std::vector<Tensor> cast_op(NodeContext& ctx) {
  ctx.allow_attrs({"to"});
  const int64_t to = ctx.attr_int("to");
  const DType dtype = dtype_for(static_cast<int>(to), ctx.where() + ": attribute 'to'");
  return {ctx.place(ctx.input(0).to(dtype))};
}

std::vector<Tensor> constant_of_shape_op(NodeContext& ctx) {
  ctx.allow_attrs({"value"});
  const std::vector<int64_t> shape = ctx.input_ints(0);
  for (int64_t d : shape) {
    if (d < 0) ctx.fail("shape ", shape, " has a negative dim");
  }
  Tensor value = ctx.has_attr("value") ? ctx.attr_tensor("value") : zeros({1});
  if (value.numel() != 1) ctx.fail("attribute 'value' must hold one value, got shape ", value.shape());
  if (shape_numel(shape) > (int64_t{1} << 32)) ctx.fail("shape ", shape, " is too large");
  Tensor v = value.reshape({});
  return {ctx.place(full(shape, is_floating(v.dtype()) ? Scalar(v.item<double>()) : Scalar(v.item<int64_t>()),
                         TensorOptions(v.dtype())))};
}

}  // namespace

void register_slice_cast_ops(OpTable& t) {
  t["Slice"] = slice_op;
  t["Cast"] = cast_op;
  t["ConstantOfShape"] = constant_of_shape_op;
}

}  // namespace ember::onnx_import
