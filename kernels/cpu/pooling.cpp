// CPU 2-D pooling over NCHW planes, threaded over the N*C planes
// (channels-last inputs: pooling_nhwc.cpp).
//   max:      out = max over the (dilated) window, indices = argmax as h*W + w;
//             backward adds grad_out at each saved index.
//   average:  out = window sum / divisor, where the window is clipped to the
//             padded input and the divisor counts padding or not (PyTorch's rule).
//   adaptive: output cell o covers [floor(o*I/O), ceil((o+1)*I/O)).
// Memory: each input element is read about (KH/SH)*(KW/SW) times, from cache.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/even_odd_columns.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/pool_windows.h"
#include "kernels/cpu/widen_16bit.h"

namespace ember {
namespace {

struct Planes {
  int64_t planes, H, W, OH, OW;
  Planes(const Tensor& in, const Tensor& out)
      : planes(in.size(0) * in.size(1)), H(in.size(2)), W(in.size(3)), OH(out.size(2)), OW(out.size(3)) {}
};

// Sum of the window [h0, h1) x [w0, w1) of a plane with rows of W, in
// double, its vector lanes adding in their own order: that differs from the
// sum in order by the rounding of the double partial sums only, far below a
// float's last bit for a float window; a window of whole rows (a global
// average: EfficientNet's squeeze) is one contiguous run. Left in order, the
// sum was one dependent add per element.
template <class T>
double window_sum(const T* plane, int64_t W, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  if (w0 == 0 && w1 == W) {
    w1 = (h1 - h0) * W;
    h1 = h0 + 1;
  }
  double sum = 0;
  for (int64_t ih = h0; ih < h1; ++ih) {
    const T* row = plane + ih * W;
#pragma omp simd reduction(+ : sum)
    for (int64_t iw = w0; iw < w1; ++iw) sum += static_cast<double>(row[iw]);
  }
  return sum;
}

// Average pooling of a float plane with a 2x2 window at stride 2, unpadded,
// every window inside the image (DenseNet's transitions): each window's four
// values added in window order in float, then divided by 4, as PyTorch
// does; eight outputs per AVX2 step, from 16 columns of two rows split into
// their even and odd columns. The general loop's double sum of a window
// costs a division per output and runs a 4-element window as a loop.
bool is_avg_pool_2x2(const Planes& s, const Pool2dParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
         p.pad_w == 0 && (p.divisor_override == 0 || p.divisor_override == 4) && 2 * s.OH <= s.H && 2 * s.OW <= s.W;
}

void avg_pool_2x2_plane(const float* plane, float* y, const Planes& s) {
  for (int64_t oh = 0; oh < s.OH; ++oh) {
    const float* r0 = plane + 2 * oh * s.W;
    const float* r1 = r0 + s.W;
    float* out = y + oh * s.OW;
    int64_t ow = 0;
#if defined(__AVX2__)
    // Columns 2ow .. 2ow+15 of each row: its even and odd ones, in output order.
    for (; ow + 8 <= s.OW; ow += 8) {
      const __m256 e0 = even_columns_of_16(r0 + 2 * ow), o0 = odd_columns_of_16(r0 + 2 * ow);
      const __m256 e1 = even_columns_of_16(r1 + 2 * ow), o1 = odd_columns_of_16(r1 + 2 * ow);
      const __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(e0, o0), e1), o1);
      _mm256_storeu_ps(out + ow, _mm256_mul_ps(sum, _mm256_set1_ps(0.25f)));
    }
#endif
    for (; ow < s.OW; ++ow) out[ow] = (r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) * 0.25f;
  }
}

// Max pooling of one plane. Output columns whose whole window lies inside the
// image (most of them) go tap by tap over the whole row, branch-free and
// vectorised along ow; the rest check bounds tap by tap. Both scan the window row by row and keep the first
// maximum, and a NaN replaces whatever came before it, as in PyTorch.
// max(a, b) that keeps a NaN from either side, as PyTorch's max pooling
// does (a window with a NaN gives NaN).
inline float max_keeping_nan(float a, float b) { return !std::isnan(a) && (b > a || std::isnan(b)) ? b : a; }

// acc[j] = max_keeping_nan(acc[j], src[j]) for j < n. (maxps returns its
// second operand when either is NaN; the blend puts back a NaN of the first.)
void max_into(float* acc, const float* src, int64_t n) {
  int64_t j = 0;
#if defined(__AVX2__)
  for (; j + 8 <= n; j += 8) {
    const __m256 a = _mm256_loadu_ps(acc + j);
    const __m256 m = _mm256_max_ps(a, _mm256_loadu_ps(src + j));
    _mm256_storeu_ps(acc + j, _mm256_blendv_ps(m, a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q)));
  }
#endif
  for (; j < n; ++j) acc[j] = max_keeping_nan(acc[j], src[j]);
}

// A float32 max pooling's values without their indices (inference, no
// dilation): for each output row, the max over the window's input rows,
// column by column, into a padded row (-inf in the padding and past it,
// for ceil mode's last window); then the max over the window's columns,
// as kw vector passes over the output row: at stride 1 the row shifted by
// kj, at stride 2 the row split once into its even and odd columns, which
// tap kj reads from column ow + kj / 2. Other strides go column by column.
// Keeping the argmax (the indices path) cost a compare-and-select of an
// int64 per tap: ResNet's 3x3 stride-2 pooling of 64 x 112 x 112 took
// 1.1 ms on two threads.
void max_pool_values_plane(const float* plane, float* y, const Planes& s, const Pool2dParams& p,
                           std::vector<float>& rows) {
  const int64_t kw = p.kernel_w, sw = p.stride_w;
  const int64_t width = std::max(s.W + 2 * p.pad_w, (s.OW - 1) * sw + kw), half = (width + 1) / 2;
  rows.resize(static_cast<size_t>(width + 2 * half));
  float* const row = rows.data();
  float* const even = row + width;
  float* const odd = even + half;
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t oh = 0; oh < s.OH; ++oh) {
    std::fill(row, row + width, lowest);
    for (int64_t ki = 0; ki < p.kernel_h; ++ki) {
      const int64_t ih = oh * p.stride_h - p.pad_h + ki;
      if (ih >= 0 && ih < s.H) max_into(row + p.pad_w, plane + ih * s.W, s.W);
    }
    float* out = y + oh * s.OW;
    if (sw == 1) {
      std::copy(row, row + s.OW, out);
      for (int64_t kj = 1; kj < kw; ++kj) max_into(out, row + kj, s.OW);
    } else if (sw == 2) {
      int64_t j = 0;
#if defined(__AVX2__)
      for (; 2 * j + 16 <= width; j += 8) {
        _mm256_storeu_ps(even + j, even_columns_of_16(row + 2 * j));
        _mm256_storeu_ps(odd + j, odd_columns_of_16(row + 2 * j));
      }
#endif
      for (; j < half; ++j) {
        even[j] = row[2 * j];
        odd[j] = 2 * j + 1 < width ? row[2 * j + 1] : lowest;
      }
      std::copy(even, even + s.OW, out);
      for (int64_t kj = 1; kj < kw; ++kj) max_into(out, (kj % 2 ? odd : even) + kj / 2, s.OW);
    } else {
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        float m = row[ow * sw];
        for (int64_t kj = 1; kj < kw; ++kj) m = max_keeping_nan(m, row[ow * sw + kj]);
        out[ow] = m;
      }
    }
  }
}

template <class T>
void max_pool_plane(const T* plane, T* y, int64_t* idx, const Planes& s, const Pool2dParams& p) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w, dh = p.dilation_h, dw = p.dilation_w, sw = p.stride_w;
  auto bounded = [&](int64_t oh, int64_t ow) {
    const int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * sw - p.pad_w;
    T best = -std::numeric_limits<T>::infinity();
    int64_t best_i = -1;
    for (int64_t ki = 0; ki < kh; ++ki) {
      int64_t ih = h0 + ki * dh;
      if (ih < 0 || ih >= s.H) continue;
      for (int64_t kj = 0; kj < kw; ++kj) {
        int64_t iw = w0 + kj * dw;
        if (iw < 0 || iw >= s.W) continue;
        T v = plane[ih * s.W + iw];
        if (best_i < 0 || v > best || std::isnan(v)) {
          best = v;
          best_i = ih * s.W + iw;
        }
      }
    }
    y[oh * s.OW + ow] = best;
    idx[oh * s.OW + ow] = best_i;
  };
  // Interior columns: ow*sw - pw >= 0 and ow*sw - pw + (kw-1)*dw < W.
  const int64_t lo = std::min<int64_t>((p.pad_w + sw - 1) / sw, s.OW);
  const int64_t span = (kw - 1) * dw;
  const int64_t hi = std::clamp<int64_t>(s.W - 1 - span + p.pad_w >= 0 ? (s.W - 1 - span + p.pad_w) / sw + 1 : 0, lo, s.OW);
  for (int64_t oh = 0; oh < s.OH; ++oh) {
    const int64_t h0 = oh * p.stride_h - p.pad_h;
    if (h0 < 0 || h0 + (kh - 1) * dh >= s.H) {
      for (int64_t ow = 0; ow < s.OW; ++ow) bounded(oh, ow);
      continue;
    }
    for (int64_t ow = 0; ow < lo; ++ow) bounded(oh, ow);
    T* __restrict yr = y + oh * s.OW;
    int64_t* __restrict ir = idx + oh * s.OW;
    const int64_t base = h0 * s.W - p.pad_w;  // the window of ow starts at plane[base + ow*sw]
    for (int64_t ow = lo; ow < hi; ++ow) {
      yr[ow] = plane[base + ow * sw];
      ir[ow] = base + ow * sw;
    }
    for (int64_t ki = 0; ki < kh; ++ki) {
      for (int64_t kj = 0; kj < kw; ++kj) {
        if (ki == 0 && kj == 0) continue;
        const int64_t off = ki * dh * s.W + kj * dw;
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ++ow) {
          const T v = plane[base + ow * sw + off];
          const bool take = v > yr[ow] || v != v;
          yr[ow] = take ? v : yr[ow];
          ir[ow] = take ? base + ow * sw + off : ir[ow];
        }
      }
    }
    for (int64_t ow = std::max(hi, lo); ow < s.OW; ++ow) bounded(oh, ow);
  }
}

}  // namespace

void CpuBackend::max_pool2d_forward(const Tensor& out, const Tensor& indices, const Tensor& input,
                                    const Pool2dParams& p) {
  if (any_16bit({out, input})) {
    WidenedOutput y(out);
    max_pool2d_forward(y.work(), indices, widened(input), p);
    return y.commit();
  }
  if (!indices.defined()) {
    // Inference: the values alone where there is a kernel for them, else
    // the indices computed and dropped.
    if (input.dtype() == DType::Float32 && !is_channels_last(input) && p.dilation_h == 1 && p.dilation_w == 1) {
      Planes s(input, out);
      const float* x = static_cast<const float*>(input.data_ptr());
      float* y = static_cast<float*>(out.data_ptr());
      return parallel_for(s.planes, 1, [&](int64_t begin, int64_t end) {
        std::vector<float> rows;
        for (int64_t pl = begin; pl < end; ++pl) max_pool_values_plane(x + pl * s.H * s.W, y + pl * s.OH * s.OW, s, p, rows);
      });
    }
    const Tensor dropped = empty(out.shape(), TensorOptions(DType::Int64, out.device()), suggest_memory_format(out));
    return max_pool2d_forward(out, dropped, input, p);
  }
  if (is_channels_last(input)) return max_pool2d_nhwc_forward(out, indices, input, p);
  Planes s(input, out);
  dispatch_float_double(input.dtype(), "max_pool2d", [&]<class T>() {
    const T* x = static_cast<const T*>(input.data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    int64_t* idx = static_cast<int64_t*>(indices.data_ptr());
    parallel_for(s.planes, 1, [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl) {
        max_pool_plane(x + pl * s.H * s.W, y + pl * s.OH * s.OW, idx + pl * s.OH * s.OW, s, p);
      }
    });
  });
}

void CpuBackend::max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Tensor& indices) {
  if (any_16bit({grad_input, grad_out})) {
    WidenedOutput gx(grad_input);
    max_pool2d_backward(gx.work(), widened(grad_out), indices);
    return gx.commit();
  }
  if (is_channels_last(grad_input)) return max_pool2d_nhwc_backward(grad_input, grad_out, indices);
  Planes s(grad_input, grad_out);
  dispatch_float_double(grad_out.dtype(), "max_pool2d_backward", [&]<class T>() {
    const T* gy = static_cast<const T*>(grad_out.data_ptr());
    const int64_t* idx = static_cast<const int64_t*>(indices.data_ptr());
    T* gx = static_cast<T*>(grad_input.data_ptr());
    parallel_for(s.planes, 1, [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl) {
        T* plane = gx + pl * s.H * s.W;
        std::fill(plane, plane + s.H * s.W, T(0));
        const int64_t o0 = pl * s.OH * s.OW;
        for (int64_t o = 0; o < s.OH * s.OW; ++o) {
          if (idx[o0 + o] >= 0) plane[idx[o0 + o]] += gy[o0 + o];
        }
      }
    });
  });
}

void CpuBackend::avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dParams& p) {
  if (any_16bit({out, input})) {
    WidenedOutput y(out);
    avg_pool2d_forward(y.work(), widened(input), p);
    return y.commit();
  }
  if (is_channels_last(input)) return avg_pool2d_nhwc_forward(out, input, p);
  Planes s(input, out);
  dispatch_float_double(input.dtype(), "avg_pool2d", [&]<class T>() {
    const T* x = static_cast<const T*>(input.data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    if constexpr (std::is_same_v<T, float>) {
      if (is_avg_pool_2x2(s, p)) {
        return parallel_for(s.planes, 1, [&](int64_t begin, int64_t end) {
          for (int64_t pl = begin; pl < end; ++pl) avg_pool_2x2_plane(x + pl * s.H * s.W, y + pl * s.OH * s.OW, s);
        });
      }
    }
    parallel_for(s.planes, 1, [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl) {
        const T* plane = x + pl * s.H * s.W;
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            AvgWindow win = avg_window(oh, ow, s.H, s.W, p);
            const double sum = window_sum(plane, s.W, win.h0, win.h1, win.w0, win.w1);
            bool empty = win.h0 >= win.h1 || win.w0 >= win.w1;
            y[(pl * s.OH + oh) * s.OW + ow] = empty ? T(0) : static_cast<T>(sum / win.divisor);
          }
        }
      }
    });
  });
}

void CpuBackend::avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Pool2dParams& p) {
  if (any_16bit({grad_input, grad_out})) {
    WidenedOutput gx(grad_input);
    avg_pool2d_backward(gx.work(), widened(grad_out), p);
    return gx.commit();
  }
  if (is_channels_last(grad_input)) return avg_pool2d_nhwc_backward(grad_input, grad_out, p);
  Planes s(grad_input, grad_out);
  dispatch_float_double(grad_out.dtype(), "avg_pool2d_backward", [&]<class T>() {
    const T* gy = static_cast<const T*>(grad_out.data_ptr());
    T* gx = static_cast<T*>(grad_input.data_ptr());
    parallel_for(s.planes, 1, [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl) {
        T* plane = gx + pl * s.H * s.W;
        std::fill(plane, plane + s.H * s.W, T(0));
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            AvgWindow win = avg_window(oh, ow, s.H, s.W, p);
            if (win.h0 >= win.h1 || win.w0 >= win.w1) continue;
            T g = static_cast<T>(gy[(pl * s.OH + oh) * s.OW + ow] / win.divisor);
            for (int64_t ih = win.h0; ih < win.h1; ++ih) {
              for (int64_t iw = win.w0; iw < win.w1; ++iw) plane[ih * s.W + iw] += g;
            }
          }
        }
      }
    });
  });
}

void CpuBackend::adaptive_avg_pool2d_forward(const Tensor& out, const Tensor& input) {
  if (any_16bit({out, input})) {
    WidenedOutput y(out);
    adaptive_avg_pool2d_forward(y.work(), widened(input));
    return y.commit();
  }
  if (is_channels_last(input)) return adaptive_avg_pool2d_nhwc_forward(out, input);
  Planes s(input, out);
  dispatch_float_double(input.dtype(), "adaptive_avg_pool2d", [&]<class T>() {
    const T* x = static_cast<const T*>(input.data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    parallel_for(s.planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(s.H * s.W, 1)), [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl) {
        const T* plane = x + pl * s.H * s.W;
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          int64_t h0 = adaptive_start(oh, s.H, s.OH), h1 = adaptive_end(oh, s.H, s.OH);
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            int64_t w0 = adaptive_start(ow, s.W, s.OW), w1 = adaptive_end(ow, s.W, s.OW);
            const double sum = window_sum(plane, s.W, h0, h1, w0, w1);
            y[(pl * s.OH + oh) * s.OW + ow] = static_cast<T>(sum / static_cast<double>((h1 - h0) * (w1 - w0)));
          }
        }
      }
    });
  });
}

void CpuBackend::adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out) {
  if (any_16bit({grad_input, grad_out})) {
    WidenedOutput gx(grad_input);
    adaptive_avg_pool2d_backward(gx.work(), widened(grad_out));
    return gx.commit();
  }
  if (is_channels_last(grad_input)) return adaptive_avg_pool2d_nhwc_backward(grad_input, grad_out);
  Planes s(grad_input, grad_out);
  dispatch_float_double(grad_out.dtype(), "adaptive_avg_pool2d_backward", [&]<class T>() {
    const T* gy = static_cast<const T*>(grad_out.data_ptr());
    T* gx = static_cast<T*>(grad_input.data_ptr());
    parallel_for(s.planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(s.H * s.W, 1)), [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl) {
        T* plane = gx + pl * s.H * s.W;
        std::fill(plane, plane + s.H * s.W, T(0));
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          int64_t h0 = adaptive_start(oh, s.H, s.OH), h1 = adaptive_end(oh, s.H, s.OH);
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            int64_t w0 = adaptive_start(ow, s.W, s.OW), w1 = adaptive_end(ow, s.W, s.OW);
            T g = static_cast<T>(gy[(pl * s.OH + oh) * s.OW + ow] / static_cast<double>((h1 - h0) * (w1 - w0)));
            for (int64_t ih = h0; ih < h1; ++ih) {
              for (int64_t iw = w0; iw < w1; ++iw) plane[ih * s.W + iw] += g;
            }
          }
        }
      }
    });
  });
}

}  // namespace ember
