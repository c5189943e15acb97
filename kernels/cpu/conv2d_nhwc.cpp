// CPU 2-D convolution on channels-last tensors (NHWC activations, OHWI
// weights, groups == 1), by im2col + GEMM over the whole batch's pixels:
//   forward          out[P, OC] = col[P, K] x W[OC, K]^T
//   backward input   col = grad_out[P, OC] x W[OC, K], then col2im adds col into grad_input
//   backward weight  grad_W[OC, K] += grad_out[P, OC]^T x col[P, K]
// with P = N*OH*OW output pixels and K = KH*KW*C. A pixel's row of col is
// KH*KW runs of C contiguous channels, so im2col copies whole channel
// vectors, and the products are P rows tall, where NCHW's per-sample
// products have OH*OW columns (49 at ResNet's last stage). A 1x1, stride-1,
// unpadded convolution skips im2col: the input [P, C] already is col.
// Threads: over ranges of samples when the batch has one per thread (each
// range with its own col buffer, so col2im never writes across threads),
// otherwise inside the products. A folded batch norm (conv_epilogue.h) is
// applied to each block of pixels right after its product.
// Cost: 2*P*OC*K flops; col adds P*K writes and reads per pass.
#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/conv_geometry.h"
#include "kernels/cpu/parallel.h"

namespace ember {
namespace {

// col[m - m0, (ki*KW + kj)*C + c] = x[n, ih, iw, c] for the output pixels m
// in [m0, m1) (m = (n*OH + oh)*OW + ow), with ih = oh*sh - ph + ki*dh and
// iw = ow*sw - pw + kj*dw; 0 where the window hangs over the padding.
template <class T>
void im2col_nhwc(const T* x, T* col, const ConvGeometry& g, int64_t m0, int64_t m1) {
  const auto& p = g.p;
  const int64_t K = g.KH * g.KW * g.C, ohw = g.OH * g.OW;
  for (int64_t m = m0; m < m1; ++m) {
    const int64_t n = m / ohw, oh = (m % ohw) / g.OW, ow = m % g.OW;
    const T* image = x + n * g.H * g.W * g.C;
    T* row = col + (m - m0) * K;
    for (int64_t ki = 0; ki < g.KH; ++ki) {
      const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
      T* dst = row + ki * g.KW * g.C;
      if (ih < 0 || ih >= g.H) {
        std::fill(dst, dst + g.KW * g.C, T(0));
        continue;
      }
      for (int64_t kj = 0; kj < g.KW; ++kj, dst += g.C) {
        const int64_t iw = ow * p.stride_w - p.pad_w + kj * p.dilation_w;
        if (iw < 0 || iw >= g.W) {
          std::fill(dst, dst + g.C, T(0));
        } else {
          const T* src = image + (ih * g.W + iw) * g.C;
          std::copy(src, src + g.C, dst);
        }
      }
    }
  }
}

// The adjoint of im2col_nhwc: grad_x[n, ih, iw, c] += col[m - m0, (ki*KW + kj)*C + c].
template <class T>
void col2im_add_nhwc(const T* col, T* gx, const ConvGeometry& g, int64_t m0, int64_t m1) {
  const auto& p = g.p;
  const int64_t K = g.KH * g.KW * g.C, ohw = g.OH * g.OW;
  for (int64_t m = m0; m < m1; ++m) {
    const int64_t n = m / ohw, oh = (m % ohw) / g.OW, ow = m % g.OW;
    T* image = gx + n * g.H * g.W * g.C;
    const T* row = col + (m - m0) * K;
    for (int64_t ki = 0; ki < g.KH; ++ki) {
      const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
      if (ih < 0 || ih >= g.H) continue;
      for (int64_t kj = 0; kj < g.KW; ++kj) {
        const int64_t iw = ow * p.stride_w - p.pad_w + kj * p.dilation_w;
        if (iw < 0 || iw >= g.W) continue;
        const T* src = row + (ki * g.KW + kj) * g.C;
        T* dst = image + (ih * g.W + iw) * g.C;
        for (int64_t c = 0; c < g.C; ++c) dst[c] += src[c];
      }
    }
  }
}

// Output pixels per im2col block: about 2 MiB of col, and at least 96 rows
// so each block's product still fills the GEMM's 6-row tiles many times over.
int64_t pixels_per_block(const ConvGeometry& g, size_t elem) {
  const int64_t K = g.KH * g.KW * g.C;
  const int64_t rows = static_cast<int64_t>((size_t{2} << 20) / (static_cast<size_t>(K) * elem));
  return std::max<int64_t>(rows, 96);
}

// Runs body(m0, m1, col) over blocks of at most `rows` output pixels. With
// a sample per thread, each thread takes a range of whole samples (and its
// own col of col_elems); otherwise the blocks run in turn and the GEMM
// threads inside.
template <class T, class Body>
void for_each_pixel_block(const ConvGeometry& g, int64_t rows, int64_t col_elems, Body&& body) {
  const int64_t ohw = g.OH * g.OW;
  auto run_samples = [&](int64_t n0, int64_t n1) {
    auto col = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(col_elems));  // written before read
    for (int64_t m = n0 * ohw; m < n1 * ohw; m += rows) body(m, std::min(n1 * ohw, m + rows), col.get());
  };
  if (g.N >= cpu_threads() && g.N > 1) {
    parallel_for(g.N, 1, run_samples);
  } else {
    run_samples(0, g.N);
  }
}

template <class T>
void forward_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvGeometry& g, const ConvEpilogueSpec& spec) {
  const ConvEpilogue<T> epi(spec, g.OC);
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* w = static_cast<const T*>(weight.data_ptr());
  const T* b = bias.defined() ? static_cast<const T*>(bias.data_ptr()) : nullptr;
  T* y = static_cast<T*>(out.data_ptr());
  const int64_t K = g.KH * g.KW * g.C;
  const bool direct = g.pointwise();
  const int64_t rows = direct ? g.N * g.OH * g.OW : pixels_per_block(g, sizeof(T));
  for_each_pixel_block<T>(g, rows, direct ? 0 : rows * K, [&](int64_t m0, int64_t m1, T* col) {
    if (!direct) im2col_nhwc(x, col, g, m0, m1);
    const T* a = direct ? x + m0 * K : col;
    T* yb = y + m0 * g.OC;
    gemm<T>(m1 - m0, g.OC, K, {a, K, 1}, {w, 1, K}, {yb, g.OC, 1}, false);
    if (b) {
      for (int64_t m = 0; m < m1 - m0; ++m) {
        T* row = yb + m * g.OC;
        for (int64_t oc = 0; oc < g.OC; ++oc) row[oc] += b[oc];
      }
    }
    epi.pixels(yb, m0, m1);
  });
}

template <class T>
void backward_input_typed(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                          const ConvGeometry& g) {
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* w = static_cast<const T*>(weight.data_ptr());
  T* gx = static_cast<T*>(grad_input.data_ptr());
  const int64_t K = g.KH * g.KW * g.C;
  const bool direct = g.pointwise();
  const int64_t rows = direct ? g.N * g.OH * g.OW : pixels_per_block(g, sizeof(T));
  if (!direct) std::fill(gx, gx + grad_input.numel(), T(0));
  for_each_pixel_block<T>(g, rows, direct ? 0 : rows * K, [&](int64_t m0, int64_t m1, T* col) {
    // A pointwise convolution's col is grad_input itself.
    T* dst = direct ? gx + m0 * K : col;
    gemm<T>(m1 - m0, K, g.OC, {gy + m0 * g.OC, g.OC, 1}, {w, K, 1}, {dst, K, 1}, false);
    if (!direct) col2im_add_nhwc(col, gx, g, m0, m1);
  });
}

template <class T>
void backward_weight_typed(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                           const ConvGeometry& g) {
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* x = static_cast<const T*>(input.data_ptr());
  T* gw = static_cast<T*>(grad_weight.data_ptr());
  const int64_t K = g.KH * g.KW * g.C, wsize = g.OC * K, ohw = g.OH * g.OW;
  const bool direct = g.pointwise();
  const int64_t rows = pixels_per_block(g, sizeof(T));
  const int64_t col_elems = direct ? 0 : rows * K;
  // Adds the pixels of samples [n0, n1) into acc [OC, K]: acc += grad_out^T x col.
  auto accumulate = [&](int64_t n0, int64_t n1, T* acc) {
    auto col = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(col_elems));  // written before read
    for (int64_t m0 = n0 * ohw; m0 < n1 * ohw; m0 += rows) {
      const int64_t m1 = std::min(n1 * ohw, m0 + rows);
      if (!direct) im2col_nhwc(x, col.get(), g, m0, m1);
      const T* cm = direct ? x + m0 * K : col.get();
      gemm<T>(g.OC, K, m1 - m0, {gy + m0 * g.OC, 1, g.OC}, {cm, K, 1}, {acc, K, 1}, true);
    }
  };
  std::fill(gw, gw + wsize, T(0));
  const int64_t threads = std::min<int64_t>(cpu_threads(), g.N);
  if (threads > 1) {
    // Samples share the weights, so each thread sums into its own accumulator; then add them up.
    std::vector<std::vector<T>> partial(static_cast<size_t>(threads));
    parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        std::vector<T>& acc = partial[static_cast<size_t>(t)];
        acc.assign(static_cast<size_t>(wsize), T(0));
        accumulate(g.N * t / threads, g.N * (t + 1) / threads, acc.data());
      }
    });
    for (const std::vector<T>& acc : partial) {
      for (int64_t i = 0; i < wsize; ++i) gw[i] += acc[static_cast<size_t>(i)];
    }
  } else {
    accumulate(0, g.N, gw);
  }
}

}  // namespace

void conv2d_nhwc_forward_cpu(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const ConvGeometry& g, const ConvEpilogueSpec& epi) {
  dispatch_float_double(input.dtype(), "conv2d",
                        [&]<class T>() { forward_typed<T>(out, input, weight, bias, g, epi); });
}

void conv2d_nhwc_backward_input_cpu(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                    const ConvGeometry& g) {
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_input",
                        [&]<class T>() { backward_input_typed<T>(grad_input, grad_out, weight, g); });
}

void conv2d_nhwc_backward_weight_cpu(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                     const ConvGeometry& g) {
  dispatch_float_double(grad_out.dtype(), "conv2d_backward_weight",
                        [&]<class T>() { backward_weight_typed<T>(grad_weight, grad_out, input, g); });
}

}  // namespace ember
