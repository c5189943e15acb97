// CPU depthwise convolution: each output channel oc reads only input channel
// oc / multiplier, so the work is a small stencil per plane, done directly:
//   out[n, oc, oh, ow] = b[oc] + sum_{ki, kj} w[oc, ki, kj] * x[n, c, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]
// The common square kernels (3x3 and 5x5, stride 1 or 2, no dilation: every
// depthwise layer of MobileNet and EfficientNet) have a forward specialised at
// compile time: the plane is copied into a zero-bordered scratch plane, then
// each output element sums its K*K taps in a register, with the weights in
// registers and no bounds checks, vectorised along ow (or, with stride 1 on
// maps under 32 columns wide, along the whole plane as one run). In float32
// with one output channel per input channel, maps up to 32 output columns
// wide go eight channels at a time instead, one channel per vector lane
// (depthwise_channel_groups.h). On AVX-512 builds, float32 maps more than 8
// columns wide go through depthwise_rows.h instead: sixteen columns per
// register straight from the input, no scratch copy, the batch norm and a
// ReLU or ReLU6 applied before the store (MobileNetV2's layers from 14x14
// up ran 1.25-2.05x faster, one thread). Other shapes take the general
// path, which adds one tap at a time into the output row (KH*KW passes).
// Threads over (n, oc) planes (or groups of eight); the weight gradient is
// threaded over oc, summing over the batch inside. A folded batch norm
// (conv_epilogue.h) with no activation, ReLU or ReLU6 is applied in the
// register before the store by the row and channel-group kernels; others,
// and the plane kernels', to each plane as it is finished.
// Cost: 2*KH*KW flops per output element; each input plane is read from
// memory once (into the scratch, or by the first tap) and KH*KW times from
// cache; each output element is written once.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/depthwise_channel_groups.h"
#include "kernels/cpu/depthwise_rows.h"
#include "kernels/cpu/even_odd_columns.h"
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

// even[j] = in[2j] for j < (W + 1) / 2, odd[j] = in[2j + 1] for j < W / 2:
// a row split by column parity. For float, 16 columns per AVX2 step (as a
// strided scalar loop it was most of a stride-2 layer's time at 112x112).
template <class T>
void split_row(const T* in, int64_t W, T* even, T* odd) {
  int64_t j = 0;
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float>) {
    for (; 2 * j + 16 <= W; j += 8) {
      _mm256_storeu_ps(even + j, even_columns_of_16(in + 2 * j));
      _mm256_storeu_ps(odd + j, odd_columns_of_16(in + 2 * j));
    }
  }
#endif
  for (; 2 * j < W; ++j) {
    even[j] = in[2 * j];
    if (2 * j + 1 < W) odd[j] = in[2 * j + 1];
  }
}

// A K x K kernel with stride S (1 or 2) and no dilation. The plane is first
// copied into the middle of a zero-bordered scratch plane (the padding made
// real), so every output element sums its K*K taps in a register with no
// bounds checks, vectorised along ow. The scratch's border is zeroed once
// per thread and never written again. With stride 2 and kSplit each scratch
// row holds its even columns, then its odd ones: tap kj of output ow is
// column 2*ow + kj, element ow + kj/2 of one half, so every tap is a
// contiguous load instead of a stride-2 gather (1.4x faster from 16 output
// columns up; on a 7-column row the split costs more than it saves).
template <class T, int K, int S, bool kSplit = false>
void forward_plane_fixed(const T* plane, const T* wk, T bias, T* dst, const ConvGeometry& g, T* padded) {
  static_assert(S == 1 || S == 2);
  static_assert(!kSplit || S == 2);
  const int64_t ph = g.p.pad_h, pw = g.p.pad_w, PW = g.W + 2 * pw;
  const int64_t odd_start = kSplit ? (PW + 1) / 2 : 0;  // where a row's odd columns begin
  for (int64_t ih = 0; ih < g.H; ++ih) {
    const T* in = plane + ih * g.W;
    T* out = padded + (ih + ph) * PW;
    if constexpr (!kSplit) {
      std::copy(in, in + g.W, out + pw);
    } else {
      // Input column iw lands on scratch column iw + pw, which is element
      // (iw + pw) / 2 of the half of its parity.
      split_row(in, g.W, out + (pw & 1) * odd_start + pw / 2, out + ((pw + 1) & 1) * odd_start + (pw + 1) / 2);
    }
  }
  T w[K * K];
  for (int i = 0; i < K * K; ++i) w[i] = wk[i];
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    T* __restrict row = dst + oh * g.OW;
    const T* __restrict src = padded + oh * S * PW;  // tap (ki, kj): src[ki*PW + column(ow, kj)]
#pragma omp simd
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      T acc = bias;
      for (int ki = 0; ki < K; ++ki) {
        for (int kj = 0; kj < K; ++kj) {
          const int64_t column = kSplit ? (kj & 1) * odd_start + ow + kj / 2 : ow * S + kj;
          acc += w[ki * K + kj] * src[ki * PW + column];
        }
      }
      row[ow] = acc;
    }
  }
}

// Stride 1 on a small plane (a 14x14 or 7x7 map): a row is too short for
// the vector loop above (14 columns: one vector and six left over), so the
// output is computed on the scratch plane's own grid instead, as one run of
// (OH - 1) * PW + OW elements: output (oh, ow) sits at oh * PW + ow, where
// its taps are src[o + ki*PW + kj] for every o alike. The run's K - 1
// columns past each row's end are computed and dropped when the rows are
// copied to dst. The run lives past the scratch plane in the same buffer.
template <class T, int K>
void forward_plane_flat(const T* plane, const T* wk, T bias, T* dst, const ConvGeometry& g, T* padded) {
  const int64_t ph = g.p.pad_h, pw = g.p.pad_w, PW = g.W + 2 * pw, PH = g.H + 2 * ph;
  for (int64_t ih = 0; ih < g.H; ++ih) std::copy(plane + ih * g.W, plane + (ih + 1) * g.W, padded + (ih + ph) * PW + pw);
  T w[K * K];
  for (int i = 0; i < K * K; ++i) w[i] = wk[i];
  T* __restrict run = padded + PH * PW;
  const T* __restrict src = padded;
  const int64_t n = (g.OH - 1) * PW + g.OW;
#pragma omp simd
  for (int64_t o = 0; o < n; ++o) {
    T acc = bias;
    for (int ki = 0; ki < K; ++ki) {
      for (int kj = 0; kj < K; ++kj) acc += w[ki * K + kj] * src[o + ki * PW + kj];
    }
    run[o] = acc;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) std::copy(run + oh * PW, run + oh * PW + g.OW, dst + oh * g.OW);
}

// The general path: adds one tap at a time into each output row.
template <class T>
void forward_plane_general(const T* plane, const T* wk, T bias, T* dst, const ConvGeometry& g, T*) {
  const auto& p = g.p;
  std::fill(dst, dst + g.OH * g.OW, bias);
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

template <class T>
using PlaneForward = void (*)(const T*, const T*, T, T*, const ConvGeometry&, T*);

// A plane's forward kernel and the scratch it needs per thread (elements).
template <class T>
struct PlaneKernel {
  PlaneForward<T> run;
  size_t scratch;
};

template <class T>
PlaneKernel<T> choose_plane_forward(const ConvGeometry& g) {
  const auto& p = g.p;
  const bool square = g.KH == g.KW && p.stride_h == p.stride_w && p.dilation_h == 1 && p.dilation_w == 1;
  // The zero-bordered plane; the flat run's OH rows go after it.
  const int64_t PW = g.W + 2 * p.pad_w, plane = (g.H + 2 * p.pad_h) * PW, run = g.OH * PW;
  auto fixed = [&](PlaneForward<T> f) { return PlaneKernel<T>{f, static_cast<size_t>(plane)}; };
  auto flat = [&](PlaneForward<T> f) { return PlaneKernel<T>{f, static_cast<size_t>(plane + run)}; };
  // Best of 30 runs, same process: the flat run is 1.4-2.1x faster on 7x7
  // and 14x14 maps, 1.1-1.4x on 28x28, 0.85-0.94x from 56x56 up; the split
  // stride-2 rows 1.2-1.45x faster from 16 output columns up.
  const bool small = g.OW < 32, split = g.OW >= 16;
  if (square && g.KH == 3 && p.stride_h == 1) return small ? flat(forward_plane_flat<T, 3>) : fixed(forward_plane_fixed<T, 3, 1>);
  if (square && g.KH == 3 && p.stride_h == 2) return fixed(split ? forward_plane_fixed<T, 3, 2, true> : forward_plane_fixed<T, 3, 2>);
  if (square && g.KH == 5 && p.stride_h == 1) return small ? flat(forward_plane_flat<T, 5>) : fixed(forward_plane_fixed<T, 5, 1>);
  if (square && g.KH == 5 && p.stride_h == 2) return fixed(split ? forward_plane_fixed<T, 5, 2, true> : forward_plane_fixed<T, 5, 2>);
  return {forward_plane_general<T>, 0};
}

// AVX-512 builds: every plane through depthwise_rows.h, with the batch norm
// and a ReLU or ReLU6 applied before the store (other epilogues after it).
void forward_rows(float* y, const float* x, const float* w, const float* b, const ConvGeometry& g,
                  const ConvEpilogue<float>& epi) {
  const int mode = epi.register_mode();
  const int64_t plane_out = g.OH * g.OW;
  parallel_for(g.N * g.OC, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / g.OC, oc = t % g.OC;
      DepthwiseRowsEpilogue e;
      if (mode > 0) e = {mode, epi.scales()[oc], epi.shifts()[oc]};
      depthwise_rows_plane(x + (n * g.C + oc / g.OCg) * g.H * g.W, w + oc * g.KH * g.KW, b ? b[oc] : 0.0f,
                           y + t * plane_out, g, e);
      if (mode < 0) epi.channel_span(y + t * plane_out, t * plane_out, oc, plane_out);
    }
  });
}

template <class T>
void forward_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvGeometry& g, const ConvEpilogueSpec& spec) {
  const ConvEpilogue<T> epi(spec, g.OC);
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* w = static_cast<const T*>(weight.data_ptr());
  const T* b = bias.defined() ? static_cast<const T*>(bias.data_ptr()) : nullptr;
  T* y = static_cast<T*>(out.data_ptr());
  if constexpr (std::is_same_v<T, float>) {
    if (depthwise_rows_available(g)) return forward_rows(y, x, w, b, g, epi);
  }
  const PlaneKernel<T> kernel = choose_plane_forward<T>(g);
  // In float32, maps up to 32 output columns wide go eight channels at a
  // time (depthwise_channel_groups.h). MobileNetV2's 7x7 and 14x14 layers
  // ran 1.5-2.3x faster so, EfficientNet-B0's 5x5 ones 1.3-4x; on wider maps
  // its scratch leaves L1 while a plane's stays in it (112x112 at stride 1
  // was 1.3x slower). A task is one sample's group of channels; a group of
  // fewer than eight (the last one, or every one of size 1) runs plane by
  // plane.
  bool grouped = false;
  if constexpr (std::is_same_v<T, float>) grouped = depthwise_channel_groups_available(g) && g.OW <= 32;
  const int64_t group = grouped ? 8 : 1, groups = (g.OC + group - 1) / group, plane_out = g.OH * g.OW;
  // A group's batch norm and ReLU or ReLU6 go into its stores (on a 7x7 map
  // a pass of its own over each plane took a quarter of the layer's time).
  const int group_mode = epi.register_mode();
  parallel_for(g.N * groups, 1, [&](int64_t begin, int64_t end) {
    // This thread's zero-bordered scratch: a plane (and flat run), eight planes.
    std::vector<T> plane_scratch(kernel.scratch, T(0));
    std::vector<T> group_scratch(grouped ? static_cast<size_t>(depthwise_channel_group_scratch(g)) : 0, T(0));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / groups, oc0 = t % groups * group, count = std::min(group, g.OC - oc0);
      T* out0 = y + (n * g.OC + oc0) * plane_out;
      bool done = false;
      bool epilogue_done = false;
      if constexpr (std::is_same_v<T, float>) {
        if (count == 8) {
          RegisterEpilogue e;
          if (group_mode > 0) e = {group_mode, epi.scales() + oc0, epi.shifts() + oc0};
          depthwise_channel_group(x + (n * g.C + oc0) * g.H * g.W, w + oc0 * g.KH * g.KW, b ? b + oc0 : nullptr, e,
                                  out0, g, group_scratch.data());
          done = true;
          epilogue_done = group_mode >= 0;
        }
      }
      for (int64_t oc = oc0; !done && oc < oc0 + count; ++oc)
        kernel.run(x + (n * g.C + oc / g.OCg) * g.H * g.W, w + oc * g.KH * g.KW, b ? b[oc] : T(0),
                   out0 + (oc - oc0) * plane_out, g, plane_scratch.data());
      for (int64_t oc = oc0; !epilogue_done && oc < oc0 + count; ++oc)
        epi.channel_span(out0 + (oc - oc0) * plane_out, (n * g.OC + oc) * plane_out, oc, plane_out);
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
                                  const ConvGeometry& g, const ConvEpilogueSpec& epi) {
  dispatch_float_double(input.dtype(), "conv2d",
                        [&]<class T>() { forward_typed<T>(out, input, weight, bias, g, epi); });
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
