#include "engine/ops/pool.h"

#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace ember {
namespace {

// Validates a pooling call and fills its parameters; returns the contiguous 4-D input.
Tensor prepare(const Tensor& x, Pool2dParams& p, const char* op) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.dim() == 4, op, "expected a 4-D input [N, C, H, W], got shape ", x.shape());
  EMBER_CHECK(is_floating(x.dtype()), op, "needs a floating-point tensor, got ", dtype_name(x.dtype()));
  EMBER_CHECK(p.kernel_h > 0 && p.kernel_w > 0, op, "kernel size must be positive, got ", p.kernel_h, "x", p.kernel_w);
  EMBER_CHECK(p.stride_h > 0 && p.stride_w > 0, op, "stride must be positive, got ", p.stride_h, "x", p.stride_w);
  EMBER_CHECK(p.dilation_h > 0 && p.dilation_w > 0, op, "dilation must be positive");
  int64_t eff_h = (p.kernel_h - 1) * p.dilation_h + 1, eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  EMBER_CHECK(p.pad_h >= 0 && p.pad_w >= 0 && p.pad_h <= eff_h / 2 && p.pad_w <= eff_w / 2, op, "padding ", p.pad_h,
              "x", p.pad_w, " must be non-negative and at most half the kernel size ", p.kernel_h, "x", p.kernel_w);
  return x.detach().contiguous(suggest_memory_format(x));  // channels-last stays so
}

Pool2dParams make_params(Pair kernel, Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
  Pool2dParams p;
  p.kernel_h = kernel[0];
  p.kernel_w = kernel[1];
  p.stride_h = stride[0] == 0 ? kernel[0] : stride[0];
  p.stride_w = stride[1] == 0 ? kernel[1] : stride[1];
  p.pad_h = padding[0];
  p.pad_w = padding[1];
  p.dilation_h = dilation[0];
  p.dilation_w = dilation[1];
  p.ceil_mode = ceil_mode;
  return p;
}

Shape output_shape(const Tensor& x, const Pool2dParams& p, const char* op) {
  int64_t oh = pool_output_size(x.size(2), p.kernel_h, p.stride_h, p.pad_h, p.dilation_h, p.ceil_mode);
  int64_t ow = pool_output_size(x.size(3), p.kernel_w, p.stride_w, p.pad_w, p.dilation_w, p.ceil_mode);
  EMBER_CHECK(oh > 0 && ow > 0, op, "the output would be ", oh, "x", ow, ": the input of shape ", x.shape(),
              " is too small for a ", p.kernel_h, "x", p.kernel_w, " window");
  return {x.size(0), x.size(1), oh, ow};
}

}  // namespace

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode) {
  int64_t numer = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = (numer >= 0 ? numer / stride : -((-numer + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace {

// max_pool2d_with_indices, or, with `want_indices` false and no backward to
// record, the values alone on the CPU (undefined indices: the kernel skips
// the argmax, most of its work).
std::pair<Tensor, Tensor> max_pool2d_impl(const Tensor& x_in, Pair kernel, Pair stride, Pair padding, Pair dilation,
                                          bool ceil_mode, bool want_indices) {
  if (x_in.defined() && x_in.dim() == 3) {
    auto [v, i] = max_pool2d_impl(x_in.unsqueeze(0), kernel, stride, padding, dilation, ceil_mode, want_indices);
    return {v.squeeze(0), i.defined() ? i.squeeze(0) : i};
  }
  Pool2dParams p = make_params(kernel, stride, padding, dilation, ceil_mode);
  Tensor x = prepare(x_in, p, "max_pool2d");
  Shape shape = output_shape(x, p, "max_pool2d");
  const MemoryFormat format = suggest_memory_format(x);
  Tensor out = empty(shape, TensorOptions(x.dtype(), x.device()), format);
  const bool backward = any_requires_grad({x_in});
  Tensor indices;
  if (want_indices || backward || x.device().type != DeviceType::CPU)
    indices = empty(shape, TensorOptions(DType::Int64, x.device()), format);
  if (out.numel() > 0) backend(x.device()).max_pool2d_forward(out, indices, x, p);
  if (backward) {
    record("MaxPool2dBackward", out, {x_in}, [in_shape = x.shape(), indices, format](const Tensor& g, const NeedsGrad&) {
      Tensor gx = empty(in_shape, TensorOptions(g.dtype(), g.device()), format);
      if (gx.numel() > 0) backend(g.device()).max_pool2d_backward(gx, g.contiguous(format), indices);
      return std::vector<Tensor>{gx};
    });
  }
  return {out, indices};
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x_in, Pair kernel, Pair stride, Pair padding,
                                                  Pair dilation, bool ceil_mode) {
  return max_pool2d_impl(x_in, kernel, stride, padding, dilation, ceil_mode, true);
}

Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
  return max_pool2d_impl(x, kernel, stride, padding, dilation, ceil_mode, false).first;
}

Tensor avg_pool2d(const Tensor& x_in, Pair kernel, Pair stride, Pair padding, bool ceil_mode, bool count_include_pad,
                  int64_t divisor_override) {
  if (x_in.defined() && x_in.dim() == 3) {
    return avg_pool2d(x_in.unsqueeze(0), kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
        .squeeze(0);
  }
  Pool2dParams p = make_params(kernel, stride, padding, {1, 1}, ceil_mode);
  p.count_include_pad = count_include_pad;
  p.divisor_override = divisor_override;
  EMBER_CHECK(divisor_override >= 0, "avg_pool2d", "divisor_override must be positive, got ", divisor_override);
  Tensor x = prepare(x_in, p, "avg_pool2d");
  Shape shape = output_shape(x, p, "avg_pool2d");
  const MemoryFormat format = suggest_memory_format(x);
  Tensor out = empty(shape, TensorOptions(x.dtype(), x.device()), format);
  if (out.numel() > 0) backend(x.device()).avg_pool2d_forward(out, x, p);
  record("AvgPool2dBackward", out, {x_in}, [in_shape = x.shape(), p, format](const Tensor& g, const NeedsGrad&) {
    Tensor gx = empty(in_shape, TensorOptions(g.dtype(), g.device()), format);
    if (gx.numel() > 0) backend(g.device()).avg_pool2d_backward(gx, g.contiguous(format), p);
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x_in, Pair output_size) {
  if (x_in.defined() && x_in.dim() == 3) return adaptive_avg_pool2d(x_in.unsqueeze(0), output_size).squeeze(0);
  const char* op = "adaptive_avg_pool2d";
  EMBER_CHECK(x_in.defined() && x_in.dim() == 4, op, "expected a 4-D input [N, C, H, W], got shape ",
              x_in.defined() ? x_in.shape() : Shape{});
  EMBER_CHECK(is_floating(x_in.dtype()), op, "needs a floating-point tensor, got ", dtype_name(x_in.dtype()));
  EMBER_CHECK(output_size[0] > 0 && output_size[1] > 0, op, "output size must be positive, got ", output_size[0], "x",
              output_size[1]);
  EMBER_CHECK(x_in.size(2) > 0 && x_in.size(3) > 0, op, "the input of shape ", x_in.shape(), " has an empty plane");
  const MemoryFormat format = suggest_memory_format(x_in);
  Tensor x = x_in.detach().contiguous(format);
  Tensor out = empty({x.size(0), x.size(1), output_size[0], output_size[1]}, TensorOptions(x.dtype(), x.device()),
                     format);
  if (out.numel() > 0) backend(x.device()).adaptive_avg_pool2d_forward(out, x);
  record("AdaptiveAvgPool2dBackward", out, {x_in}, [in_shape = x.shape(), format](const Tensor& g, const NeedsGrad&) {
    Tensor gx = empty(in_shape, TensorOptions(g.dtype(), g.device()), format);
    if (gx.numel() > 0) backend(g.device()).adaptive_avg_pool2d_backward(gx, g.contiguous(format));
    return std::vector<Tensor>{gx};
  });
  return out;
}

}  // namespace ember
