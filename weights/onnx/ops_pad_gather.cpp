// Pad (constant, reflect and edge modes; pads as attribute before opset 11,
// as input from 11, optional axes from 18) and Gather (any axis, negative
// indices). Both are built from views and cat, so they run on any device.
#include <algorithm>

#include "engine/ember.h"
#include "weights/onnx/node_context.h"

namespace ember::onnx_import {
namespace {

// Reflect or edge padding of one dim: copies of single slices around x.
Tensor pad_dim(const NodeContext& ctx, const Tensor& x, int64_t dim, int64_t before, int64_t after, bool reflect) {
  const int64_t n = x.size(dim);
  if (n == 0) ctx.fail("cannot ", reflect ? "reflect" : "edge", "-pad an empty dim ", dim);
  if (reflect && (before > n - 1 || after > n - 1)) {
    ctx.fail("reflect pads (", before, ", ", after, ") of dim ", dim, " must be smaller than its size ", n);
  }
  std::vector<Tensor> parts;
  for (int64_t i = before; i >= 1; --i) parts.push_back(x.narrow(dim, reflect ? i : 0, 1));
  parts.push_back(x);
  for (int64_t i = 1; i <= after; ++i) parts.push_back(x.narrow(dim, reflect ? n - 1 - i : n - 1, 1));
  return parts.size() == 1 ? x : cat(parts, dim);
}

std::vector<Tensor> pad_op(NodeContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = x.dim();
  std::vector<int64_t> pads;
  double value = 0;
  if (ctx.opset() < 11) {
    ctx.allow_attrs({"pads", "paddings", "mode", "value"});
    pads = ctx.attr_ints(ctx.opset() < 2 ? "paddings" : "pads");
    value = ctx.attr_float("value", 0.0f);
  } else {
    ctx.allow_attrs({"mode"});
    pads = ctx.input_ints(1);
    if (ctx.has_input(2)) value = ctx.input_scalar(2);
  }
  // pads lists all begins, then all ends, for `axes` (default: every dim).
  std::vector<int64_t> axes;
  if (ctx.opset() >= 18 && ctx.has_input(3)) {
    for (int64_t a : ctx.input_ints(3)) axes.push_back(wrap_axis(ctx, a, rank, "axes value"));
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  if (pads.size() != 2 * axes.size()) ctx.fail("pads ", pads, " should have ", 2 * axes.size(), " values");
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), end(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    begin[static_cast<size_t>(axes[i])] += pads[i];
    end[static_cast<size_t>(axes[i])] += pads[i + axes.size()];
  }
  const std::string mode = ctx.attr_string("mode", "constant");
  if (mode == "constant") {
    std::vector<int64_t> torch_order;
    for (int64_t d = rank - 1; d >= 0; --d) {
      torch_order.push_back(begin[static_cast<size_t>(d)]);
      torch_order.push_back(end[static_cast<size_t>(d)]);
    }
    return {pad(x, torch_order, is_floating(x.dtype()) ? Scalar(value) : Scalar(static_cast<int64_t>(value)))};
  }
  if (mode != "reflect" && mode != "edge") ctx.unsupported("mode", "'" + mode + "'");
  // Negative pads crop first; then each dim is padded in turn, as np.pad does.
  Tensor y = x;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t b = begin[static_cast<size_t>(d)], e = end[static_cast<size_t>(d)];
    const int64_t crop_b = std::max<int64_t>(0, -b), crop_e = std::max<int64_t>(0, -e);
    if (crop_b + crop_e > y.size(d)) ctx.fail("pads ", pads, " crop more than dim ", d, " holds");
    if (crop_b || crop_e) y = y.narrow(d, crop_b, y.size(d) - crop_b - crop_e);
    if (b > 0 || e > 0) y = pad_dim(ctx, y, d, std::max<int64_t>(b, 0), std::max<int64_t>(e, 0), mode == "reflect");
  }
  return {y};
}

// out = data.shape[:axis] + indices.shape + data.shape[axis+1:].
std::vector<Tensor> gather_op(NodeContext& ctx) {
  ctx.allow_attrs({"axis"});
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  if (indices.is_floating_point()) ctx.fail("indices must be integers, got ", dtype_name(indices.dtype()));
  if (data.dim() == 0) ctx.fail("cannot gather from a 0-d tensor");
  const int64_t axis = wrap_axis(ctx, ctx.attr_int("axis", 0), data.dim());
  const int64_t n = data.size(axis);
  if (indices.numel() > (1 << 20)) ctx.fail("too many indices (", indices.numel(), ")");
  std::vector<int64_t> idx = indices.to(kCPU).contiguous().to_vector<int64_t>();
  for (int64_t& i : idx) {
    if (i < -n || i >= n) ctx.fail("index ", i, " is out of range for axis ", axis, " of size ", n);
    if (i < 0) i += n;
  }
  Shape out(data.shape().begin(), data.shape().begin() + axis);
  out.insert(out.end(), indices.shape().begin(), indices.shape().end());
  out.insert(out.end(), data.shape().begin() + axis + 1, data.shape().end());
  if (indices.dim() == 0) return {data.select(axis, idx[0])};
  if (idx.empty()) return {empty(out, TensorOptions(data.dtype(), data.device()))};
  // Runs of consecutive indices become one slice each.
  std::vector<Tensor> parts;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i + 1;
    while (j < idx.size() && idx[j] == idx[j - 1] + 1) ++j;
    parts.push_back(data.narrow(axis, idx[i], static_cast<int64_t>(j - i)));
    i = j;
  }
  Tensor g = parts.size() == 1 ? parts[0] : cat(parts, axis);
  return {g.reshape(out)};
}

}  // namespace

void register_pad_gather_ops(OpTable& t) {
  t["Pad"] = pad_op;
  t["Gather"] = gather_op;
}

}  // namespace ember::onnx_import
