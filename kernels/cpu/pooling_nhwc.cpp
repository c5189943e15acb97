// CPU 2-D pooling on channels-last tensors (memory [N, H, W, C]), with the
// results of pooling.cpp: the same windows, divisors, first-maximum and NaN
// rules, and indices h*W + w within each channel's plane. Every loop runs
// along a pixel's C contiguous channels, so it vectorises for any window.
// Threads: forwards over output rows (n, oh); backwards, which add into
// overlapping windows, over (sample, block of 64 channels) pairs, whose
// parts of grad_input are disjoint.
// Memory: each input pixel's channels are read about (KH/SH)*(KW/SW) times,
// from cache after the first.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/pool_windows.h"

namespace ember {
namespace {

struct Pixels {
  int64_t N, C, H, W, OH, OW;
  Pixels(const Tensor& in, const Tensor& out)
      : N(in.size(0)), C(in.size(1)), H(in.size(2)), W(in.size(3)), OH(out.size(2)), OW(out.size(3)) {}
};

constexpr int64_t kChannelBlock = 64;

// The backwards' scatter: for every sample n and block of channels
// [c0, c1), over threads, zeroes that part of grad_input and runs
// body(n, c0, c1, image), image being sample n of grad_input.
template <class T, class Body>
void scatter_per_sample_channels(const Pixels& s, T* gx, Body&& body) {
  const int64_t blocks = (s.C + kChannelBlock - 1) / kChannelBlock;
  parallel_for(s.N * blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i / blocks, c0 = (i % blocks) * kChannelBlock, c1 = std::min(s.C, c0 + kChannelBlock);
      T* image = gx + n * s.H * s.W * s.C;
      for (int64_t pix = 0; pix < s.H * s.W; ++pix) std::fill(image + pix * s.C + c0, image + pix * s.C + c1, T(0));
      body(n, c0, c1, image);
    }
  });
}

template <class T>
void max_forward(const Tensor& out, const Tensor& indices, const Tensor& input, const Pool2dParams& p) {
  const Pixels s(input, out);
  const T* x = static_cast<const T*>(input.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  int64_t* idx = static_cast<int64_t*>(indices.data_ptr());
  const int64_t C = s.C;
  parallel_for(s.N * s.OH, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / s.OH, oh = row % s.OH;
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        T* __restrict best = y + (row * s.OW + ow) * C;
        int64_t* __restrict at = idx + (row * s.OW + ow) * C;
        bool first = true;
        for (int64_t ki = 0; ki < p.kernel_h; ++ki) {
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          if (ih < 0 || ih >= s.H) continue;
          for (int64_t kj = 0; kj < p.kernel_w; ++kj) {
            const int64_t iw = ow * p.stride_w - p.pad_w + kj * p.dilation_w;
            if (iw < 0 || iw >= s.W) continue;
            const T* v = x + ((n * s.H + ih) * s.W + iw) * C;
            const int64_t pos = ih * s.W + iw;
            if (first) {
              for (int64_t c = 0; c < C; ++c) {
                best[c] = v[c];
                at[c] = pos;
              }
              first = false;
              continue;
            }
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) {
              const bool take = v[c] > best[c] || v[c] != v[c];
              best[c] = take ? v[c] : best[c];
              at[c] = take ? pos : at[c];
            }
          }
        }
        if (first) {  // no tap inside the image (pooling's checks rule this out)
          std::fill(best, best + C, -std::numeric_limits<T>::infinity());
          std::fill(at, at + C, int64_t{-1});
        }
      }
    }
  });
}

template <class T>
void max_backward(const Tensor& grad_input, const Tensor& grad_out, const Tensor& indices) {
  const Pixels s(grad_input, grad_out);
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const int64_t* idx = static_cast<const int64_t*>(indices.data_ptr());
  T* gx = static_cast<T*>(grad_input.data_ptr());
  scatter_per_sample_channels(s, gx, [&](int64_t n, int64_t c0, int64_t c1, T* image) {
    for (int64_t o = n * s.OH * s.OW; o < (n + 1) * s.OH * s.OW; ++o) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t at = idx[o * s.C + c];
        if (at >= 0) image[at * s.C + c] += gy[o * s.C + c];
      }
    }
  });
}

// Each window's channel vectors summed in double, then divided by its divisor.
template <class T>
void avg_forward(const Tensor& out, const Tensor& input, const Pool2dParams& p) {
  const Pixels s(input, out);
  const T* x = static_cast<const T*>(input.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  const int64_t C = s.C;
  parallel_for(s.N * s.OH, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(C));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / s.OH, oh = row % s.OH;
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const AvgWindow win = avg_window(oh, ow, s.H, s.W, p);
        T* dst = y + (row * s.OW + ow) * C;
        if (win.h0 >= win.h1 || win.w0 >= win.w1) {
          std::fill(dst, dst + C, T(0));
          continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t ih = win.h0; ih < win.h1; ++ih) {
          for (int64_t iw = win.w0; iw < win.w1; ++iw) {
            const T* v = x + ((n * s.H + ih) * s.W + iw) * C;
            for (int64_t c = 0; c < C; ++c) acc[static_cast<size_t>(c)] += v[c];
          }
        }
        for (int64_t c = 0; c < C; ++c) dst[c] = static_cast<T>(acc[static_cast<size_t>(c)] / win.divisor);
      }
    }
  });
}

template <class T>
void avg_backward(const Tensor& grad_input, const Tensor& grad_out, const Pool2dParams& p) {
  const Pixels s(grad_input, grad_out);
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  T* gx = static_cast<T*>(grad_input.data_ptr());
  scatter_per_sample_channels(s, gx, [&](int64_t n, int64_t c0, int64_t c1, T* image) {
    for (int64_t oh = 0; oh < s.OH; ++oh) {
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const AvgWindow win = avg_window(oh, ow, s.H, s.W, p);
        const T* g = gy + ((n * s.OH + oh) * s.OW + ow) * s.C;
        for (int64_t ih = win.h0; ih < win.h1; ++ih) {
          for (int64_t iw = win.w0; iw < win.w1; ++iw) {
            T* dst = image + (ih * s.W + iw) * s.C;
            for (int64_t c = c0; c < c1; ++c) dst[c] += static_cast<T>(g[c] / win.divisor);
          }
        }
      }
    }
  });
}

template <class T>
void adaptive_forward(const Tensor& out, const Tensor& input) {
  const Pixels s(input, out);
  const T* x = static_cast<const T*>(input.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  const int64_t C = s.C;
  parallel_for(s.N * s.OH, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(C));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / s.OH, oh = row % s.OH;
      const int64_t h0 = adaptive_start(oh, s.H, s.OH), h1 = adaptive_end(oh, s.H, s.OH);
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, s.W, s.OW), w1 = adaptive_end(ow, s.W, s.OW);
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t ih = h0; ih < h1; ++ih) {
          for (int64_t iw = w0; iw < w1; ++iw) {
            const T* v = x + ((n * s.H + ih) * s.W + iw) * C;
            for (int64_t c = 0; c < C; ++c) acc[static_cast<size_t>(c)] += v[c];
          }
        }
        const double count = static_cast<double>((h1 - h0) * (w1 - w0));
        T* dst = y + (row * s.OW + ow) * C;
        for (int64_t c = 0; c < C; ++c) dst[c] = static_cast<T>(acc[static_cast<size_t>(c)] / count);
      }
    }
  });
}

template <class T>
void adaptive_backward(const Tensor& grad_input, const Tensor& grad_out) {
  const Pixels s(grad_input, grad_out);
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  T* gx = static_cast<T*>(grad_input.data_ptr());
  scatter_per_sample_channels(s, gx, [&](int64_t n, int64_t c0, int64_t c1, T* image) {
    for (int64_t oh = 0; oh < s.OH; ++oh) {
      const int64_t h0 = adaptive_start(oh, s.H, s.OH), h1 = adaptive_end(oh, s.H, s.OH);
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, s.W, s.OW), w1 = adaptive_end(ow, s.W, s.OW);
        const double count = static_cast<double>((h1 - h0) * (w1 - w0));
        const T* g = gy + ((n * s.OH + oh) * s.OW + ow) * s.C;
        for (int64_t ih = h0; ih < h1; ++ih) {
          for (int64_t iw = w0; iw < w1; ++iw) {
            T* dst = image + (ih * s.W + iw) * s.C;
            for (int64_t c = c0; c < c1; ++c) dst[c] += static_cast<T>(g[c] / count);
          }
        }
      }
    }
  });
}

}  // namespace

void max_pool2d_nhwc_forward(const Tensor& out, const Tensor& indices, const Tensor& input, const Pool2dParams& p) {
  dispatch_float_double(input.dtype(), "max_pool2d", [&]<class T>() { max_forward<T>(out, indices, input, p); });
}
void max_pool2d_nhwc_backward(const Tensor& grad_input, const Tensor& grad_out, const Tensor& indices) {
  dispatch_float_double(grad_out.dtype(), "max_pool2d_backward",
                        [&]<class T>() { max_backward<T>(grad_input, grad_out, indices); });
}
void avg_pool2d_nhwc_forward(const Tensor& out, const Tensor& input, const Pool2dParams& p) {
  dispatch_float_double(input.dtype(), "avg_pool2d", [&]<class T>() { avg_forward<T>(out, input, p); });
}
void avg_pool2d_nhwc_backward(const Tensor& grad_input, const Tensor& grad_out, const Pool2dParams& p) {
  dispatch_float_double(grad_out.dtype(), "avg_pool2d_backward",
                        [&]<class T>() { avg_backward<T>(grad_input, grad_out, p); });
}
void adaptive_avg_pool2d_nhwc_forward(const Tensor& out, const Tensor& input) {
  dispatch_float_double(input.dtype(), "adaptive_avg_pool2d", [&]<class T>() { adaptive_forward<T>(out, input); });
}
void adaptive_avg_pool2d_nhwc_backward(const Tensor& grad_input, const Tensor& grad_out) {
  dispatch_float_double(grad_out.dtype(), "adaptive_avg_pool2d_backward",
                        [&]<class T>() { adaptive_backward<T>(grad_input, grad_out); });
}

}  // namespace ember
