// CPU depthwise convolution on channels-last tensors (one input channel per
// group, one output channel per input channel):
//   out[n, oh, ow, c] = b[c] + sum_{ki, kj} w[c, ki, kj] * x[n, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw, c]
// In NHWC every tap is a multiply-add of two contiguous channel vectors, so
// the inner loop runs along c and vectorises for any kernel size, stride or
// dilation, with the bounds checked once per tap rather than per element.
// The weights are first transposed to [KH*KW, C] so each tap's weights are a
// contiguous vector too.
// Threads: over output rows (n, oh) for the forward, input rows (n, ih) for
// the input gradient (gathered, so no two threads write one element), and
// over samples for the weight gradient (a partial sum per thread). A folded
// batch norm (conv_epilogue.h) is applied to each output row as it is finished.
// Cost: 2*KH*KW flops per output element; each input pixel's channel vector
// is read KH*KW times, from cache after the first.
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/parallel.h"

namespace ember {
namespace {

// w [C, KH*KW] (the weight's memory in either format: one input channel) as [KH*KW, C].
template <class T>
std::vector<T> taps_by_channel(const T* w, int64_t C, int64_t taps) {
  std::vector<T> t(static_cast<size_t>(C * taps));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k = 0; k < taps; ++k) t[static_cast<size_t>(k * C + c)] = w[c * taps + k];
  return t;
}

template <class T>
inline void multiply_add(T* __restrict acc, const T* __restrict a, const T* __restrict b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += a[i] * b[i];
}

template <class T>
void forward_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvGeometry& g, const ConvEpilogueSpec& spec) {
  const ConvEpilogue<T> epi(spec, g.OC);
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* b = bias.defined() ? static_cast<const T*>(bias.data_ptr()) : nullptr;
  T* y = static_cast<T*>(out.data_ptr());
  const int64_t C = g.C;
  const std::vector<T> wt = taps_by_channel(static_cast<const T*>(weight.data_ptr()), C, g.KH * g.KW);
  const auto& p = g.p;
  parallel_for(g.N * g.OH, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / g.OH, oh = row % g.OH;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        T* dst = y + (row * g.OW + ow) * C;
        if (b) std::copy(b, b + C, dst);
        else std::fill(dst, dst + C, T(0));
        for (int64_t ki = 0; ki < g.KH; ++ki) {
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kj = 0; kj < g.KW; ++kj) {
            const int64_t iw = ow * p.stride_w - p.pad_w + kj * p.dilation_w;
            if (iw < 0 || iw >= g.W) continue;
            multiply_add(dst, wt.data() + (ki * g.KW + kj) * C, x + ((n * g.H + ih) * g.W + iw) * C, C);
          }
        }
      }
      epi.pixels(y + row * g.OW * C, row * g.OW, (row + 1) * g.OW);
    }
  });
}

// grad_x[n, ih, iw, c] = sum over the taps (ki, kj) whose output pixel
// (oh, ow) = ((ih + ph - ki*dh) / sh, (iw + pw - kj*dw) / sw) exists
// (divides exactly and lies in range) of w[c, ki, kj] * grad_out[n, oh, ow, c].
template <class T>
void backward_input_typed(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                          const ConvGeometry& g) {
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  T* gx = static_cast<T*>(grad_input.data_ptr());
  const int64_t C = g.C;
  const std::vector<T> wt = taps_by_channel(static_cast<const T*>(weight.data_ptr()), C, g.KH * g.KW);
  const auto& p = g.p;
  parallel_for(g.N * g.H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / g.H, ih = row % g.H;
      for (int64_t iw = 0; iw < g.W; ++iw) {
        T* dst = gx + (row * g.W + iw) * C;
        std::fill(dst, dst + C, T(0));
        for (int64_t ki = 0; ki < g.KH; ++ki) {
          const int64_t th = ih + p.pad_h - ki * p.dilation_h;
          if (th < 0 || th % p.stride_h != 0 || th / p.stride_h >= g.OH) continue;
          const int64_t oh = th / p.stride_h;
          for (int64_t kj = 0; kj < g.KW; ++kj) {
            const int64_t tw = iw + p.pad_w - kj * p.dilation_w;
            if (tw < 0 || tw % p.stride_w != 0 || tw / p.stride_w >= g.OW) continue;
            const int64_t ow = tw / p.stride_w;
            multiply_add(dst, wt.data() + (ki * g.KW + kj) * C, gy + ((n * g.OH + oh) * g.OW + ow) * C, C);
          }
        }
      }
    }
  });
}

// grad_w[c, ki, kj] = sum over (n, oh, ow) of grad_out[n, oh, ow, c] * x[n, ih, iw, c].
// Each output row is summed on its own, then added to its thread's partial
// sum, so long sums are added in two levels.
template <class T>
void backward_weight_typed(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                           const ConvGeometry& g) {
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* x = static_cast<const T*>(input.data_ptr());
  const int64_t C = g.C, taps = g.KH * g.KW, rows = g.N * g.OH;
  const auto& p = g.p;
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(cpu_threads(), rows));
  std::vector<std::vector<T>> partial(static_cast<size_t>(threads), std::vector<T>(static_cast<size_t>(taps * C)));
  parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
    std::vector<T> row_sum(static_cast<size_t>(taps * C));
    for (int64_t t = t0; t < t1; ++t) {
      T* acc = partial[static_cast<size_t>(t)].data();
      for (int64_t row = rows * t / threads; row < rows * (t + 1) / threads; ++row) {
        const int64_t n = row / g.OH, oh = row % g.OH;
        std::fill(row_sum.begin(), row_sum.end(), T(0));
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const T* gp = gy + (row * g.OW + ow) * C;
          for (int64_t ki = 0; ki < g.KH; ++ki) {
            const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kj = 0; kj < g.KW; ++kj) {
              const int64_t iw = ow * p.stride_w - p.pad_w + kj * p.dilation_w;
              if (iw < 0 || iw >= g.W) continue;
              multiply_add(row_sum.data() + (ki * g.KW + kj) * C, gp, x + ((n * g.H + ih) * g.W + iw) * C, C);
            }
          }
        }
        for (int64_t i = 0; i < taps * C; ++i) acc[i] += row_sum[static_cast<size_t>(i)];
      }
    }
  });
  T* gw = static_cast<T*>(grad_weight.data_ptr());
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t k = 0; k < taps; ++k) {
      T s = 0;
      for (const std::vector<T>& acc : partial) s += acc[static_cast<size_t>(k * C + c)];
      gw[c * taps + k] = s;
    }
  }
}

}  // namespace

void depthwise_conv2d_nhwc_forward_cpu(const Tensor& out, const Tensor& input, const Tensor& weight,
                                       const Tensor& bias, const ConvGeometry& g, const ConvEpilogueSpec& epi) {
  dispatch_float_double(input.dtype(), "conv2d",
                        [&]<class T>() { forward_typed<T>(out, input, weight, bias, g, epi); });
}

void depthwise_conv2d_nhwc_backward_input_cpu(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                              const ConvGeometry& g) {
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_input",
                        [&]<class T>() { backward_input_typed<T>(grad_input, grad_out, weight, g); });
}

void depthwise_conv2d_nhwc_backward_weight_cpu(const Tensor& grad_weight, const Tensor& grad_out,
                                               const Tensor& input, const ConvGeometry& g) {
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_weight",
                        [&]<class T>() { backward_weight_typed<T>(grad_weight, grad_out, input, g); });
}

}  // namespace ember
