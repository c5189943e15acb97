// CPU depthwise convolution: each output channel oc reads only input channel
// oc / multiplier, so the work is a small stencil per plane, done directly:
//   out[n, oc, oh, ow] = b[oc] + sum_{ki, kj} w[oc, ki, kj] * x[n, c, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]
// The innermost loop runs along ow, contiguous in out (and in x when sw == 1),
// so it vectorises. Threads over (n, oc) planes; the weight gradient is
// threaded over oc, summing over the batch inside.
// Cost: 2*KH*KW flops per output element; each plane is read KH*KW times
// from cache.
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/parallel.h"

namespace ember {
namespace {

// [lo, hi): the output columns whose input column ow*sw + iw0 lies in [0, W).
inline void valid_columns(int64_t iw0, int64_t sw, int64_t W, int64_t OW, int64_t& lo, int64_t& hi) {
  lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;
  hi = W - iw0 <= 0 ? 0 : (W - iw0 - 1) / sw + 1;
  lo = std::min(lo, OW);
  hi = std::clamp(hi, lo, OW);
}

template <class T>
void forward_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvGeometry& g) {
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* w = static_cast<const T*>(weight.data_ptr());
  const T* b = bias.defined() ? static_cast<const T*>(bias.data_ptr()) : nullptr;
  T* y = static_cast<T*>(out.data_ptr());
  const auto& p = g.p;
  parallel_for(g.N * g.OC, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t n = t / g.OC, oc = t % g.OC, c = oc / g.OCg;
      const T* plane = x + (n * g.C + c) * g.H * g.W;
      const T* wk = w + oc * g.KH * g.KW;
      T* dst = y + t * g.OH * g.OW;
      std::fill(dst, dst + g.OH * g.OW, b ? b[oc] : T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        T* row = dst + oh * g.OW;
        for (int64_t ki = 0; ki < g.KH; ++ki) {
          int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          const T* src = plane + ih * g.W;
          for (int64_t kj = 0; kj < g.KW; ++kj) {
            const T wv = wk[ki * g.KW + kj];
            int64_t iw0 = kj * p.dilation_w - p.pad_w, lo, hi;
            valid_columns(iw0, p.stride_w, g.W, g.OW, lo, hi);
            if (p.stride_w == 1) {
              const T* s = src + iw0;
              for (int64_t ow = lo; ow < hi; ++ow) row[ow] += wv * s[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) row[ow] += wv * src[ow * p.stride_w + iw0];
            }
          }
        }
      }
    }
  });
}

template <class T>
void backward_input_typed(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                          const ConvGeometry& g) {
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* w = static_cast<const T*>(weight.data_ptr());
  T* gx = static_cast<T*>(grad_input.data_ptr());
  const auto& p = g.p;
  // One thread owns input plane (n, c) and gathers from its OCg output channels.
  parallel_for(g.N * g.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t n = t / g.C, c = t % g.C;
      T* plane = gx + t * g.H * g.W;
      std::fill(plane, plane + g.H * g.W, T(0));
      for (int64_t m = 0; m < g.OCg; ++m) {
        int64_t oc = c * g.OCg + m;
        const T* src = gy + (n * g.OC + oc) * g.OH * g.OW;
        const T* wk = w + oc * g.KH * g.KW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* row = src + oh * g.OW;
          for (int64_t ki = 0; ki < g.KH; ++ki) {
            int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
            if (ih < 0 || ih >= g.H) continue;
            T* dst = plane + ih * g.W;
            for (int64_t kj = 0; kj < g.KW; ++kj) {
              const T wv = wk[ki * g.KW + kj];
              int64_t iw0 = kj * p.dilation_w - p.pad_w, lo, hi;
              valid_columns(iw0, p.stride_w, g.W, g.OW, lo, hi);
              if (p.stride_w == 1) {
                T* d = dst + iw0;
                for (int64_t ow = lo; ow < hi; ++ow) d[ow] += wv * row[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow * p.stride_w + iw0] += wv * row[ow];
              }
            }
          }
        }
      }
    }
  });
}

template <class T>
void backward_weight_typed(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                           const ConvGeometry& g) {
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* x = static_cast<const T*>(input.data_ptr());
  T* gw = static_cast<T*>(grad_weight.data_ptr());
  const auto& p = g.p;
  parallel_for(g.OC, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(g.KH * g.KW));
    for (int64_t oc = begin; oc < end; ++oc) {
      int64_t c = oc / g.OCg;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t n = 0; n < g.N; ++n) {
        const T* plane = x + (n * g.C + c) * g.H * g.W;
        const T* src = gy + (n * g.OC + oc) * g.OH * g.OW;
        for (int64_t ki = 0; ki < g.KH; ++ki) {
          for (int64_t kj = 0; kj < g.KW; ++kj) {
            int64_t iw0 = kj * p.dilation_w - p.pad_w, lo, hi;
            valid_columns(iw0, p.stride_w, g.W, g.OW, lo, hi);
            T sum = 0;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              const T* xrow = plane + ih * g.W;
              const T* grow = src + oh * g.OW;
              if (p.stride_w == 1) {
                const T* xs = xrow + iw0;
                for (int64_t ow = lo; ow < hi; ++ow) sum += grow[ow] * xs[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) sum += grow[ow] * xrow[ow * p.stride_w + iw0];
              }
            }
            acc[static_cast<size_t>(ki * g.KW + kj)] += sum;
          }
        }
      }
      for (int64_t k = 0; k < g.KH * g.KW; ++k) gw[oc * g.KH * g.KW + k] = static_cast<T>(acc[static_cast<size_t>(k)]);
    }
  });
}

}  // namespace

void depthwise_conv2d_forward_cpu(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                  const ConvGeometry& g) {
  dispatch_float_double(input.dtype(), "conv2d",
                        [&]<class T>() { forward_typed<T>(out, input, weight, bias, g); });
}

void depthwise_conv2d_backward_input_cpu(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                         const ConvGeometry& g) {
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_input",
                        [&]<class T>() { backward_input_typed<T>(grad_input, grad_out, weight, g); });
}

void depthwise_conv2d_backward_weight_cpu(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                          const ConvGeometry& g) {
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_weight",
                        [&]<class T>() { backward_weight_typed<T>(grad_weight, grad_out, input, g); });
}

}  // namespace ember
