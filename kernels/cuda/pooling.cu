// CUDA 2-D pooling over NCHW planes (float, double, half, bfloat16), with the
// CPU backend's exact window rules (kernels/cpu/pooling.cpp):
//   max:      out = max over the (dilated) window, indices = argmax as h*W + w
//             (a NaN wins, the last NaN of the window); backward adds
//             grad_out at each saved index.
//   average:  window sum / divisor, the window clipped to the padded input,
//             the divisor counting padding or not (PyTorch's rule).
//   adaptive: output cell o covers [floor(o*I/O), ceil((o+1)*I/O)).
// Channels-last inputs are copied to NCHW and the results copied back.
// Launch shapes (one thread per element, grid-stride loops of 256 threads):
// - forwards: a thread per output, looping over its window.
// - average and adaptive backward: a thread per *input* element, gathering
//   from the outputs whose windows contain it, in the CPU's order: no
//   atomics, and float results equal the CPU's bit for bit.
// - max backward: the contract gives only the indices, not the window, so a
//   thread per output adds into grad_input with atomicAdd (overlapping
//   windows may add in any order). With backend_config().deterministic, one
//   thread per plane adds its outputs in order instead (slower, exact).
// Sums accumulate in double for float and double (as the CPU does), in
// float for the 16-bit types.
// Memory traffic: forwards read each input element about (KH/SH)*(KW/SW)
// times (from cache) and write each output once (+8 bytes of index for max);
// backwards write each input gradient once (after a memset for max) and read
// each output gradient about (KH/SH)*(KW/SW) times.
#include <limits>

#include "engine/backend_config.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_types.cuh"

namespace ember {
namespace {

template <class T>
using pool_acc_t = std::conditional_t<is_16bit_float_v<T>, float, double>;

struct PoolShape {
  int64_t planes, H, W, OH, OW;
};

PoolShape pool_shape(const Tensor& in, const Tensor& out) {
  return {in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3)};
}

// The average-pooling window of output (oh, ow), clipped to the input, and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  double divisor;
};

__device__ __forceinline__ AvgWindow avg_window(int64_t oh, int64_t ow, const PoolShape& s, const Pool2dParams& p) {
  int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  int64_t h1 = min(h0 + p.kernel_h, s.H + p.pad_h), w1 = min(w0 + p.kernel_w, s.W + p.pad_w);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = max(h0, int64_t{0});
  w0 = max(w0, int64_t{0});
  h1 = min(h1, s.H);
  w1 = min(w1, s.W);
  const double divisor = p.divisor_override ? static_cast<double>(p.divisor_override)
                         : p.count_include_pad ? static_cast<double>(pool_size)
                                               : static_cast<double>((h1 - h0) * (w1 - w0));
  return {h0, h1, w0, w1, divisor};
}

__device__ __forceinline__ int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
__device__ __forceinline__ int64_t adaptive_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

#define EMBER_GRID_STRIDE(i, n)                                                                         \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);               \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <class T>
__global__ void max_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ idx,
                                        PoolShape s, Pool2dParams p) {
  using A = acc_t<T>;
  EMBER_GRID_STRIDE(o, s.planes * s.OH * s.OW) {
    const int64_t ow = o % s.OW, oh = (o / s.OW) % s.OH, pl = o / (s.OW * s.OH);
    const T* plane = x + pl * s.H * s.W;
    const int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
    A best = -std::numeric_limits<A>::infinity();
    int64_t best_i = -1;
    for (int64_t ki = 0; ki < p.kernel_h; ++ki) {
      const int64_t ih = h0 + ki * p.dilation_h;
      if (ih < 0 || ih >= s.H) continue;
      for (int64_t kj = 0; kj < p.kernel_w; ++kj) {
        const int64_t iw = w0 + kj * p.dilation_w;
        if (iw < 0 || iw >= s.W) continue;
        const A v = cast<A>(plane[ih * s.W + iw]);
        if (best_i < 0 || v > best || v != v) {  // NaN wins, as in PyTorch
          best = v;
          best_i = ih * s.W + iw;
        }
      }
    }
    y[o] = cast<T>(best);
    idx[o] = best_i;
  }
}

// The gradient sums go into O: T, or float for the 16-bit types, which the
// caller rounds once afterwards, as the CPU does (a float16 sum rounded after
// every add drifts where overlapping windows share a maximum).
template <class T, class O>
__global__ void max_pool_backward_atomic_kernel(const T* __restrict__ gy, const int64_t* __restrict__ idx,
                                                O* __restrict__ gx, PoolShape s) {
  EMBER_GRID_STRIDE(o, s.planes * s.OH * s.OW) {
    const int64_t i = idx[o];
    if (i >= 0) atomicAdd(gx + (o / (s.OH * s.OW)) * s.H * s.W + i, cast<O>(gy[o]));
  }
}

template <class T, class O>
__global__ void max_pool_backward_plane_kernel(const T* __restrict__ gy, const int64_t* __restrict__ idx,
                                               O* __restrict__ gx, PoolShape s) {
  EMBER_GRID_STRIDE(pl, s.planes) {
    O* plane = gx + pl * s.H * s.W;
    const int64_t o0 = pl * s.OH * s.OW;
    for (int64_t o = 0; o < s.OH * s.OW; ++o) {
      const int64_t i = idx[o0 + o];
      if (i >= 0) plane[i] += cast<O>(gy[o0 + o]);
    }
  }
}

template <class T>
__global__ void avg_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, PoolShape s, Pool2dParams p) {
  using S = pool_acc_t<T>;
  EMBER_GRID_STRIDE(o, s.planes * s.OH * s.OW) {
    const int64_t ow = o % s.OW, oh = (o / s.OW) % s.OH, pl = o / (s.OW * s.OH);
    const T* plane = x + pl * s.H * s.W;
    const AvgWindow win = avg_window(oh, ow, s, p);
    S sum = 0;
    for (int64_t ih = win.h0; ih < win.h1; ++ih) {
      for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += cast<S>(plane[ih * s.W + iw]);
    }
    const bool empty = win.h0 >= win.h1 || win.w0 >= win.w1;
    y[o] = empty ? cast<T>(S(0)) : cast<T>(sum / static_cast<S>(win.divisor));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(const T* __restrict__ gy, T* __restrict__ gx, PoolShape s, Pool2dParams p) {
  using A = acc_t<T>;
  using S = pool_acc_t<T>;
  EMBER_GRID_STRIDE(i, s.planes * s.H * s.W) {
    const int64_t iw = i % s.W, ih = (i / s.W) % s.H, pl = i / (s.W * s.H);
    const T* g = gy + pl * s.OH * s.OW;
    // Outputs whose window [oh*sh - ph, oh*sh - ph + kh) can contain ih (checked exactly below).
    const int64_t nh = ih + p.pad_h - p.kernel_h + 1, nw = iw + p.pad_w - p.kernel_w + 1;
    const int64_t oh0 = nh <= 0 ? 0 : (nh + p.stride_h - 1) / p.stride_h;
    const int64_t ow0 = nw <= 0 ? 0 : (nw + p.stride_w - 1) / p.stride_w;
    const int64_t oh1 = min(s.OH - 1, (ih + p.pad_h) / p.stride_h);
    const int64_t ow1 = min(s.OW - 1, (iw + p.pad_w) / p.stride_w);
    A acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const AvgWindow win = avg_window(oh, ow, s, p);
        if (ih < win.h0 || ih >= win.h1 || iw < win.w0 || iw >= win.w1) continue;
        // The CPU rounds each share to its accumulator (T, or float for the
        // 16-bit types) before adding it.
        acc += cast<A>(cast<S>(g[oh * s.OW + ow]) / static_cast<S>(win.divisor));
      }
    }
    gx[i] = cast<T>(acc);
  }
}

template <class T>
__global__ void adaptive_forward_kernel(const T* __restrict__ x, T* __restrict__ y, PoolShape s) {
  using S = pool_acc_t<T>;
  EMBER_GRID_STRIDE(o, s.planes * s.OH * s.OW) {
    const int64_t ow = o % s.OW, oh = (o / s.OW) % s.OH, pl = o / (s.OW * s.OH);
    const T* plane = x + pl * s.H * s.W;
    const int64_t h0 = adaptive_start(oh, s.H, s.OH), h1 = adaptive_end(oh, s.H, s.OH);
    const int64_t w0 = adaptive_start(ow, s.W, s.OW), w1 = adaptive_end(ow, s.W, s.OW);
    S sum = 0;
    for (int64_t ih = h0; ih < h1; ++ih) {
      for (int64_t iw = w0; iw < w1; ++iw) sum += cast<S>(plane[ih * s.W + iw]);
    }
    y[o] = cast<T>(sum / static_cast<S>((h1 - h0) * (w1 - w0)));
  }
}

template <class T>
__global__ void adaptive_backward_kernel(const T* __restrict__ gy, T* __restrict__ gx, PoolShape s) {
  using A = acc_t<T>;
  using S = pool_acc_t<T>;
  EMBER_GRID_STRIDE(i, s.planes * s.H * s.W) {
    const int64_t iw = i % s.W, ih = (i / s.W) % s.H, pl = i / (s.W * s.H);
    const T* g = gy + pl * s.OH * s.OW;
    // Cells whose range can contain ih: floor(ih*OH/H) .. ceil((ih+1)*OH/H) - 1 (checked exactly below).
    const int64_t oh0 = (ih * s.OH) / s.H, oh1 = min(s.OH - 1, ((ih + 1) * s.OH + s.H - 1) / s.H - 1);
    const int64_t ow0 = (iw * s.OW) / s.W, ow1 = min(s.OW - 1, ((iw + 1) * s.OW + s.W - 1) / s.W - 1);
    A acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      const int64_t h0 = adaptive_start(oh, s.H, s.OH), h1 = adaptive_end(oh, s.H, s.OH);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const int64_t w0 = adaptive_start(ow, s.W, s.OW), w1 = adaptive_end(ow, s.W, s.OW);
        if (iw < w0 || iw >= w1) continue;
        acc += cast<A>(cast<S>(g[oh * s.OW + ow]) / static_cast<S>((h1 - h0) * (w1 - w0)));
      }
    }
    gx[i] = cast<T>(acc);
  }
}

#undef EMBER_GRID_STRIDE

constexpr int kPoolThreads = 256;

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& out, const Tensor& indices, const Tensor& input,
                                     const Pool2dParams& p) {
  if (is_channels_last(input)) {  // the kernels are NCHW: run them on copies
    Tensor y = empty(out.shape(), TensorOptions(out.dtype(), out.device()));
    Tensor at = empty(indices.shape(), TensorOptions(DType::Int64, out.device()));
    max_pool2d_forward(y, at, input.contiguous(), p);
    copy(out, y);
    return copy(indices, at);
  }
  const PoolShape s = pool_shape(input, out);
  const int64_t n = s.planes * s.OH * s.OW;
  if (n == 0) return;
  KernelContext ctx(input);
  dispatch_cuda_floating(input.dtype(), "max_pool2d", [&]<class T>() {
    max_pool_forward_kernel<T><<<grid_for(n, kPoolThreads, ctx.device), kPoolThreads, 0, ctx.stream>>>(
        static_cast<const T*>(input.data_ptr()), static_cast<T*>(out.data_ptr()),
        static_cast<int64_t*>(indices.data_ptr()), s, p);
    EMBER_CUDA_CHECK_LAUNCH("max_pool2d", cat_str("(input ", input.shape(), ")"));
  });
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Tensor& indices) {
  if (is_channels_last(grad_input)) {
    Tensor gx = empty(grad_input.shape(), TensorOptions(grad_input.dtype(), grad_input.device()));
    max_pool2d_backward(gx, grad_out.contiguous(), indices.contiguous());
    return copy(grad_input, gx);
  }
  const PoolShape s = pool_shape(grad_input, grad_out);
  if (grad_input.numel() == 0) return;
  KernelContext ctx(grad_input);
  // 16-bit gradients are summed in a float32 buffer and rounded once at the end.
  const bool narrow = is_16bit_float(grad_input.dtype());
  const Tensor sums = narrow ? empty(grad_input.shape(), TensorOptions(DType::Float32, grad_input.device())) : grad_input;
  EMBER_CUDA_CHECK(cudaMemsetAsync(sums.data_ptr(), 0, static_cast<size_t>(sums.numel()) * sums.element_size(),
                                   ctx.stream),
                   "max_pool2d_backward");
  const int64_t n = s.planes * s.OH * s.OW;
  const bool deterministic = backend_config().deterministic;
  if (n > 0) {
    dispatch_cuda_floating(grad_out.dtype(), "max_pool2d_backward", [&]<class T>() {
      using O = std::conditional_t<is_16bit_float_v<T>, float, T>;
      const T* gy = static_cast<const T*>(grad_out.data_ptr());
      const int64_t* idx = static_cast<const int64_t*>(indices.data_ptr());
      O* gx = static_cast<O*>(sums.data_ptr());
      if (deterministic) {
        max_pool_backward_plane_kernel<T, O><<<grid_for(s.planes, 128, ctx.device), 128, 0, ctx.stream>>>(gy, idx, gx,
                                                                                                        s);
      } else {
        max_pool_backward_atomic_kernel<T, O><<<grid_for(n, kPoolThreads, ctx.device), kPoolThreads, 0, ctx.stream>>>(
            gy, idx, gx, s);
      }
      EMBER_CUDA_CHECK_LAUNCH("max_pool2d_backward", cat_str("(grad_input ", grad_input.shape(), ")"));
    });
  }
  if (narrow) copy(grad_input, sums);
}

void CudaBackend::avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dParams& p) {
  if (is_channels_last(input)) {
    Tensor y = empty(out.shape(), TensorOptions(out.dtype(), out.device()));
    avg_pool2d_forward(y, input.contiguous(), p);
    return copy(out, y);
  }
  const PoolShape s = pool_shape(input, out);
  const int64_t n = s.planes * s.OH * s.OW;
  if (n == 0) return;
  KernelContext ctx(input);
  dispatch_cuda_floating(input.dtype(), "avg_pool2d", [&]<class T>() {
    avg_pool_forward_kernel<T><<<grid_for(n, kPoolThreads, ctx.device), kPoolThreads, 0, ctx.stream>>>(
        static_cast<const T*>(input.data_ptr()), static_cast<T*>(out.data_ptr()), s, p);
    EMBER_CUDA_CHECK_LAUNCH("avg_pool2d", cat_str("(input ", input.shape(), ")"));
  });
}

void CudaBackend::avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Pool2dParams& p) {
  if (is_channels_last(grad_input)) {
    Tensor gx = empty(grad_input.shape(), TensorOptions(grad_input.dtype(), grad_input.device()));
    avg_pool2d_backward(gx, grad_out.contiguous(), p);
    return copy(grad_input, gx);
  }
  const PoolShape s = pool_shape(grad_input, grad_out);
  const int64_t n = grad_input.numel();
  if (n == 0) return;
  KernelContext ctx(grad_input);
  dispatch_cuda_floating(grad_out.dtype(), "avg_pool2d_backward", [&]<class T>() {
    avg_pool_backward_kernel<T><<<grid_for(n, kPoolThreads, ctx.device), kPoolThreads, 0, ctx.stream>>>(
        static_cast<const T*>(grad_out.data_ptr()), static_cast<T*>(grad_input.data_ptr()), s, p);
    EMBER_CUDA_CHECK_LAUNCH("avg_pool2d_backward", cat_str("(grad_input ", grad_input.shape(), ")"));
  });
}

void CudaBackend::adaptive_avg_pool2d_forward(const Tensor& out, const Tensor& input) {
  if (is_channels_last(input)) {
    Tensor y = empty(out.shape(), TensorOptions(out.dtype(), out.device()));
    adaptive_avg_pool2d_forward(y, input.contiguous());
    return copy(out, y);
  }
  const PoolShape s = pool_shape(input, out);
  const int64_t n = s.planes * s.OH * s.OW;
  if (n == 0) return;
  KernelContext ctx(input);
  dispatch_cuda_floating(input.dtype(), "adaptive_avg_pool2d", [&]<class T>() {
    adaptive_forward_kernel<T><<<grid_for(n, kPoolThreads, ctx.device), kPoolThreads, 0, ctx.stream>>>(
        static_cast<const T*>(input.data_ptr()), static_cast<T*>(out.data_ptr()), s);
    EMBER_CUDA_CHECK_LAUNCH("adaptive_avg_pool2d", cat_str("(input ", input.shape(), ")"));
  });
}

void CudaBackend::adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out) {
  if (is_channels_last(grad_input)) {
    Tensor gx = empty(grad_input.shape(), TensorOptions(grad_input.dtype(), grad_input.device()));
    adaptive_avg_pool2d_backward(gx, grad_out.contiguous());
    return copy(grad_input, gx);
  }
  const PoolShape s = pool_shape(grad_input, grad_out);
  const int64_t n = grad_input.numel();
  if (n == 0) return;
  KernelContext ctx(grad_input);
  dispatch_cuda_floating(grad_out.dtype(), "adaptive_avg_pool2d_backward", [&]<class T>() {
    adaptive_backward_kernel<T><<<grid_for(n, kPoolThreads, ctx.device), kPoolThreads, 0, ctx.stream>>>(
        static_cast<const T*>(grad_out.data_ptr()), static_cast<T*>(grad_input.data_ptr()), s);
    EMBER_CUDA_CHECK_LAUNCH("adaptive_avg_pool2d_backward", cat_str("(grad_input ", grad_input.shape(), ")"));
  });
}

}  // namespace ember
