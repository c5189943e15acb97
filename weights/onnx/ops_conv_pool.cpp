// Windowed ONNX ops: Conv, MaxPool, AveragePool, GlobalAveragePool over 1,
// 2 or 3 spatial dims. ONNX allows what PyTorch's kernels do not
// (asymmetric pads, pads past half the kernel, auto_pad, its own ceil_mode
// size rule), so each op first computes ONNX's output size, uses Ember's
// kernel directly when PyTorch's semantics give the same result, and
// otherwise pads explicitly and pools without padding: max pooling pads
// with -inf; average pooling pools sums and divides by a pooled mask of the
// cells that count (count_include_pad). 1-D runs as 2-D with height 1; 3-D
// as a sum (conv) or reduction (pools) of 2-D slices over the depth window.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ember.h"
#include "layers/conv2d_same.h"
#include "weights/onnx/node_context.h"

namespace ember::onnx_import {
namespace {

struct Window {
  std::vector<int64_t> kernel, stride, dilation, pad_begin, pad_end;
  size_t size() const { return kernel.size(); }
  int64_t extent(size_t i) const { return (kernel[i] - 1) * dilation[i] + 1; }
  bool symmetric() const { return pad_begin == pad_end; }
  // Prepends a trivial height dim (1-D ops run as 2-D).
  Window as_2d() const {
    Window w = *this;
    w.kernel.insert(w.kernel.begin(), 1);
    w.stride.insert(w.stride.begin(), 1);
    w.dilation.insert(w.dilation.begin(), 1);
    w.pad_begin.insert(w.pad_begin.begin(), 0);
    w.pad_end.insert(w.pad_end.begin(), 0);
    return w;
  }
};

// Strides, dilations, pads and auto_pad, checked against the input's spatial dims.
Window resolve_window(const NodeContext& ctx, const Shape& x, std::vector<int64_t> kernel) {
  const size_t n = kernel.size();
  Window w;
  w.kernel = std::move(kernel);
  w.stride = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  w.dilation = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  std::vector<int64_t> pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  if (w.stride.size() != n) ctx.fail("attribute 'strides' has ", w.stride.size(), " values for ", n, " spatial dims");
  if (w.dilation.size() != n) ctx.fail("attribute 'dilations' has ", w.dilation.size(), " values for ", n, " spatial dims");
  if (pads.size() != 2 * n) ctx.fail("attribute 'pads' has ", pads.size(), " values for ", n, " spatial dims");
  for (size_t i = 0; i < n; ++i) {
    if (w.kernel[i] < 1 || w.stride[i] < 1 || w.dilation[i] < 1) {
      ctx.fail("kernel ", w.kernel, ", strides ", w.stride, " and dilations ", w.dilation, " must be positive");
    }
    if (pads[i] < 0 || pads[i + n] < 0) ctx.fail("negative pads ", pads, " are not supported");
  }
  w.pad_begin.assign(pads.begin(), pads.begin() + static_cast<int64_t>(n));
  w.pad_end.assign(pads.begin() + static_cast<int64_t>(n), pads.end());
  const std::string mode = ctx.attr_string("auto_pad", "NOTSET");
  if (mode == "VALID") {
    std::fill(w.pad_begin.begin(), w.pad_begin.end(), 0);
    std::fill(w.pad_end.begin(), w.pad_end.end(), 0);
  } else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
    for (size_t i = 0; i < n; ++i) {
      const SamePadding p = same_padding(x[2 + i], w.kernel[i], w.stride[i], w.dilation[i]);
      w.pad_begin[i] = mode == "SAME_UPPER" ? p.before : p.after;
      w.pad_end[i] = mode == "SAME_UPPER" ? p.after : p.before;
    }
  } else if (mode != "NOTSET" && !mode.empty()) {
    ctx.unsupported("auto_pad", "'" + mode + "'");
  }
  return w;
}

// ONNX's output size of spatial dim i.
int64_t out_size(const NodeContext& ctx, const Window& w, size_t i, int64_t in, bool ceil_mode) {
  const int64_t span = in + w.pad_begin[i] + w.pad_end[i] - w.extent(i);
  if (span < 0) ctx.fail("the window (", w.extent(i), ") is larger than the padded input (", in + w.pad_begin[i] + w.pad_end[i], ")");
  return (ceil_mode ? (span + w.stride[i] - 1) / w.stride[i] : span / w.stride[i]) + 1;
}

// torch.nn.functional.pad order: (begin, end) pairs from the last dim.
std::vector<int64_t> torch_pads(const std::vector<int64_t>& begin, const std::vector<int64_t>& end) {
  std::vector<int64_t> p;
  for (size_t i = begin.size(); i-- > 0;) {
    p.push_back(begin[i]);
    p.push_back(end[i]);
  }
  return p;
}

Pair pair_of(const std::vector<int64_t>& v) { return {v[0], v[1]}; }
Pair last2(const std::vector<int64_t>& v) { return {v[v.size() - 2], v[v.size() - 1]}; }

std::vector<int64_t> spatial(const Tensor& x) { return {x.shape().begin() + 2, x.shape().end()}; }

void check_rank(const NodeContext& ctx, const Tensor& x) {
  if (x.dim() < 3 || x.dim() > 5) {
    ctx.fail("input of shape ", x.shape(), " is not supported (1, 2 or 3 spatial dims: [N, C, ...])");
  }
}

// --- Conv ---

Tensor conv3d_by_slices(const Tensor& x, const Tensor& w, const Tensor& b, const Window& win, int64_t groups) {
  Tensor xp = pad(x, torch_pads(win.pad_begin, win.pad_end));
  const int64_t out_d = (xp.size(2) - win.extent(0)) / win.stride[0] + 1;
  std::vector<Tensor> planes;
  for (int64_t od = 0; od < out_d; ++od) {
    Tensor acc;
    for (int64_t kd = 0; kd < win.kernel[0]; ++kd) {
      Tensor y = conv2d(xp.select(2, od * win.stride[0] + kd * win.dilation[0]), w.select(2, kd), Tensor(),
                        last2(win.stride), {0, 0}, last2(win.dilation), groups);
      acc = acc.defined() ? add(acc, y) : y;
    }
    planes.push_back(acc);
  }
  Tensor out = stack(planes, 2);
  return b.defined() ? add(out, b.reshape({1, b.numel(), 1, 1, 1})) : out;
}

std::vector<Tensor> conv_op(NodeContext& ctx) {
  ctx.allow_attrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  const Tensor& x = ctx.input(0);
  check_rank(ctx, x);
  Tensor w = on_device_of(ctx.input(1), x);
  Tensor b = ctx.has_input(2) ? on_device_of(ctx.input(2), x) : Tensor();
  if (w.dim() != x.dim()) ctx.fail("weight of shape ", w.shape(), " does not match input ", x.shape());
  std::vector<int64_t> kernel = spatial(w);
  if (ctx.has_attr("kernel_shape") && ctx.attr_ints("kernel_shape") != kernel) {
    ctx.fail("attribute kernel_shape ", ctx.attr_ints("kernel_shape"), " does not match the weight's ", kernel);
  }
  Window win = resolve_window(ctx, x.shape(), kernel);
  const int64_t groups = ctx.attr_int("group", 1);
  for (size_t i = 0; i < win.size(); ++i) out_size(ctx, win, i, x.size(2 + static_cast<int64_t>(i)), false);
  if (win.size() == 3) return {conv3d_by_slices(x, w, b, win, groups)};
  const bool one_d = win.size() == 1;
  Tensor x2 = one_d ? x.unsqueeze(2) : x;
  Tensor w2 = one_d ? w.unsqueeze(2) : w;
  if (one_d) win = win.as_2d();
  Pair padding{0, 0};
  if (win.symmetric()) {
    padding = pair_of(win.pad_begin);
  } else {
    x2 = pad(x2, torch_pads(win.pad_begin, win.pad_end));
  }
  Tensor y = conv2d(x2, w2, b, pair_of(win.stride), padding, pair_of(win.dilation), groups);
  return {one_d ? y.squeeze(2) : y};
}

// --- Pools ---

enum class PoolKind { Max, Avg };

// Pools padded 2-D or 3-D input `xp` with no padding: max, or the window sum.
Tensor pool_unpadded(const Tensor& xp, const Window& win, PoolKind kind) {
  auto pool2 = [&](const Tensor& t) {
    return kind == PoolKind::Max
               ? max_pool2d(t, last2(win.kernel), last2(win.stride), {0, 0}, last2(win.dilation), false)
               : avg_pool2d(t, last2(win.kernel), last2(win.stride), {0, 0}, false, true, 1);
  };
  if (win.size() == 2) return pool2(xp);
  const int64_t out_d = (xp.size(2) - win.extent(0)) / win.stride[0] + 1;
  std::vector<Tensor> planes;
  for (int64_t od = 0; od < out_d; ++od) {
    Tensor acc;
    for (int64_t kd = 0; kd < win.kernel[0]; ++kd) {
      Tensor y = pool2(xp.select(2, od * win.stride[0] + kd * win.dilation[0]));
      acc = !acc.defined() ? y : kind == PoolKind::Max ? maximum(acc, y) : add(acc, y);
    }
    planes.push_back(acc);
  }
  return stack(planes, 2);
}

// The general path: explicit pads plus the extra cells ceil_mode windows reach.
Tensor pool_general(const NodeContext& ctx, const Tensor& x, const Window& win, const std::vector<int64_t>& out,
                    PoolKind kind, bool count_include_pad) {
  const std::vector<int64_t> in = spatial(x);
  std::vector<int64_t> end_total(win.size()), extra(win.size());
  for (size_t i = 0; i < win.size(); ++i) {
    const int64_t need = (out[i] - 1) * win.stride[i] + win.extent(i);
    extra[i] = std::max<int64_t>(0, need - (in[i] + win.pad_begin[i] + win.pad_end[i]));
    end_total[i] = win.pad_end[i] + extra[i];
  }
  Tensor y;
  if (kind == PoolKind::Max) {
    y = pool_unpadded(pad(x, torch_pads(win.pad_begin, end_total), -std::numeric_limits<double>::infinity()), win, kind);
  } else {
    Tensor sums = pool_unpadded(pad(x, torch_pads(win.pad_begin, end_total)), win, kind);
    Shape mask_shape{1, 1};
    mask_shape.insert(mask_shape.end(), in.begin(), in.end());
    Tensor mask = ones(mask_shape, TensorOptions(x.dtype(), x.device()));
    mask = pad(mask, torch_pads(win.pad_begin, win.pad_end), count_include_pad ? 1.0 : 0.0);
    mask = pad(mask, torch_pads(std::vector<int64_t>(win.size(), 0), extra));
    y = div(sums, pool_unpadded(mask, win, kind));
  }
  // Windows are exactly `out` by construction; narrow guards the arithmetic.
  for (size_t i = 0; i < win.size(); ++i) y = y.narrow(2 + static_cast<int64_t>(i), 0, out[i]);
  return y;
}

// ONNX's flat indices (over the whole tensor) from Ember's in-plane h * W + w.
Tensor onnx_indices(const Tensor& idx, const Shape& in, int64_t storage_order) {
  const int64_t H = in[2], W = in[3], plane = H * W, per_plane = idx.size(2) * idx.size(3);
  std::vector<int64_t> v = idx.to(kCPU).contiguous().to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t h = v[i] / W, w = v[i] % W;
    v[i] = static_cast<int64_t>(i) / per_plane * plane + (storage_order == 0 ? h * W + w : w * H + h);
  }
  return from_vector(v, idx.shape());
}

std::vector<Tensor> pool_op(NodeContext& ctx, PoolKind kind) {
  if (kind == PoolKind::Max) {
    ctx.allow_attrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  } else {
    ctx.allow_attrs({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  }
  const Tensor& x = ctx.input(0);
  check_rank(ctx, x);
  if (!ctx.has_attr("kernel_shape")) ctx.fail("attribute 'kernel_shape' is required");
  std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape");
  if (kernel.size() != static_cast<size_t>(x.dim() - 2)) {
    ctx.fail("attribute kernel_shape ", kernel, " does not fit the input's shape ", x.shape());
  }
  Window win = resolve_window(ctx, x.shape(), kernel);
  const bool ceil_mode = ctx.attr_int("ceil_mode", 0) != 0;
  const bool count_include_pad = ctx.attr_int("count_include_pad", 0) != 0;
  const int64_t storage_order = ctx.attr_int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1) ctx.unsupported("storage_order", storage_order);
  const bool want_indices = kind == PoolKind::Max && ctx.wants_output(1);
  std::vector<int64_t> out;
  for (size_t i = 0; i < win.size(); ++i) out.push_back(out_size(ctx, win, i, x.size(2 + static_cast<int64_t>(i)), ceil_mode));

  const bool one_d = win.size() == 1;
  Tensor x2 = one_d ? x.unsqueeze(2) : x;
  if (one_d) {
    win = win.as_2d();
    out.insert(out.begin(), 1);
  }
  // PyTorch's kernels give ONNX's answer for symmetric pads up to half the
  // kernel when their output size agrees.
  bool direct = win.size() == 2 && win.symmetric();
  for (size_t i = 0; direct && i < 2; ++i) {
    direct = win.pad_begin[i] * 2 <= win.kernel[i] &&
             pool_output_size(x2.size(2 + static_cast<int64_t>(i)), win.kernel[i], win.stride[i], win.pad_begin[i],
                              win.dilation[i], ceil_mode) == out[i];
  }
  if (want_indices && (!direct || one_d)) ctx.fail("the Indices output is supported for 2-D pooling with symmetric pads only");
  std::vector<Tensor> result;
  if (direct && kind == PoolKind::Max) {
    if (want_indices) {
      auto [y, idx] = max_pool2d_with_indices(x2, pair_of(win.kernel), pair_of(win.stride), pair_of(win.pad_begin),
                                              pair_of(win.dilation), ceil_mode);
      return {y, onnx_indices(idx, x2.shape(), storage_order)};
    }
    result.push_back(max_pool2d(x2, pair_of(win.kernel), pair_of(win.stride), pair_of(win.pad_begin),
                                pair_of(win.dilation), ceil_mode));
  } else if (direct) {
    result.push_back(avg_pool2d(x2, pair_of(win.kernel), pair_of(win.stride), pair_of(win.pad_begin), ceil_mode,
                                count_include_pad));
  } else {
    result.push_back(pool_general(ctx, x2, win, out, kind, count_include_pad));
  }
  if (one_d) result[0] = result[0].squeeze(2);
  return result;
}

// Ember's pooling kernels take floats; integer max pooling is exact in float64.
std::vector<Tensor> max_pool_op(NodeContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.is_floating_point()) return pool_op(ctx, PoolKind::Max);
  NodeContext as_float(ctx.node(), ctx.opset(), ctx.device(), {x.to(DType::Float64)}, ctx.model());
  std::vector<Tensor> out = pool_op(as_float, PoolKind::Max);
  out[0] = out[0].to(x.dtype());
  return out;
}
std::vector<Tensor> average_pool_op(NodeContext& ctx) { return pool_op(ctx, PoolKind::Avg); }

std::vector<Tensor> global_average_pool_op(NodeContext& ctx) {
  ctx.allow_attrs({});
  const Tensor& x = ctx.input(0);
  if (x.dim() < 3) ctx.fail("input of shape ", x.shape(), " has no spatial dims");
  if (x.dim() == 4) return {adaptive_avg_pool2d(x, {1, 1})};
  Dims dims;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return {mean(x, dims, true)};
}

}  // namespace

void register_conv_pool_ops(OpTable& t) {
  t["Conv"] = conv_op;
  t["MaxPool"] = max_pool_op;
  t["AveragePool"] = average_pool_op;
  t["GlobalAveragePool"] = global_average_pool_op;
}

}  // namespace ember::onnx_import
