// CUDA depthwise convolution (groups == in_channels: output channel oc reads
// only input channel c = oc / multiplier), used instead of cuDNN for these
// layers (MobileNet, EfficientNet), for float, double, half and bfloat16
// (16-bit types accumulate in float).
//   forward:         out[n, oc, oh, ow] = b[oc] + sum_{ki,kj} w[oc, ki, kj] * x[n, c, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]
//   backward input:  grad_x[n, c, ih, iw] = sum over the multiplier's channels
//                    oc and the taps (ki, kj) that reach (ih, iw) of w * grad_out
//   backward weight: grad_w[oc, ki, kj] = sum over n, oh, ow of grad_out * x at the tap
// Launch shapes:
// - forward: a thread per output element (grid-stride, 256 threads); the
//   KH*KW weights of a channel are shared by neighbouring threads (cache).
// - backward input: a thread per input element gathering from the outputs
//   that read it (no atomics, deterministic).
// - backward weight: a 256-thread block per (oc, ki, kj) reducing over
//   N*OH*OW products (consecutive threads take consecutive ow: coalesced),
//   then a block reduction.
// Memory traffic: forward reads each input element about KH*KW/(sh*sw) times
// (from cache) and writes each output once; backward input the same in
// reverse; backward weight reads grad_out and the input KH*KW times.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/reduce.cuh"

namespace ember {
namespace {

// The geometry as plain values for a kernel argument.
struct DwShape {
  int64_t N, C, H, W, OC, KH, KW, OH, OW, mult;
  int64_t sh, sw, ph, pw, dh, dw;
};

DwShape dw_shape(const ConvGeometry& g) {
  return {g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.OH, g.OW, g.OCg,
          g.p.stride_h, g.p.stride_w, g.p.pad_h, g.p.pad_w, g.p.dilation_h, g.p.dilation_w};
}

template <class T>
__global__ void __launch_bounds__(256)
    depthwise_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                             T* __restrict__ y, DwShape s) {
  using A = acc_t<T>;
  const int64_t total = s.N * s.OC * s.OH * s.OW;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += step) {
    const int64_t ow = o % s.OW, oh = (o / s.OW) % s.OH, oc = (o / (s.OW * s.OH)) % s.OC, n = o / (s.OW * s.OH * s.OC);
    const int64_t c = oc / s.mult;
    const T* plane = x + (n * s.C + c) * s.H * s.W;
    const T* wk = w + oc * s.KH * s.KW;
    A acc = b ? cast<A>(b[oc]) : A(0);
    for (int64_t ki = 0; ki < s.KH; ++ki) {
      const int64_t ih = oh * s.sh - s.ph + ki * s.dh;
      if (ih < 0 || ih >= s.H) continue;
      for (int64_t kj = 0; kj < s.KW; ++kj) {
        const int64_t iw = ow * s.sw - s.pw + kj * s.dw;
        if (iw < 0 || iw >= s.W) continue;
        acc += cast<A>(wk[ki * s.KW + kj]) * cast<A>(plane[ih * s.W + iw]);
      }
    }
    y[o] = cast<T>(acc);
  }
}

template <class T>
__global__ void __launch_bounds__(256)
    depthwise_backward_input_kernel(const T* __restrict__ gy, const T* __restrict__ w, T* __restrict__ gx, DwShape s) {
  using A = acc_t<T>;
  const int64_t total = s.N * s.C * s.H * s.W;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t iw = i % s.W, ih = (i / s.W) % s.H, c = (i / (s.W * s.H)) % s.C, n = i / (s.W * s.H * s.C);
    A acc = 0;
    for (int64_t m = 0; m < s.mult; ++m) {
      const int64_t oc = c * s.mult + m;
      const T* g = gy + (n * s.OC + oc) * s.OH * s.OW;
      const T* wk = w + oc * s.KH * s.KW;
      for (int64_t ki = 0; ki < s.KH; ++ki) {
        const int64_t th = ih + s.ph - ki * s.dh;  // = oh * sh when this tap reaches ih
        if (th < 0 || th % s.sh != 0) continue;
        const int64_t oh = th / s.sh;
        if (oh >= s.OH) continue;
        for (int64_t kj = 0; kj < s.KW; ++kj) {
          const int64_t tw = iw + s.pw - kj * s.dw;
          if (tw < 0 || tw % s.sw != 0) continue;
          const int64_t ow = tw / s.sw;
          if (ow >= s.OW) continue;
          acc += cast<A>(wk[ki * s.KW + kj]) * cast<A>(g[oh * s.OW + ow]);
        }
      }
    }
    gx[i] = cast<T>(acc);
  }
}

template <class T>
__global__ void __launch_bounds__(256)
    depthwise_backward_weight_kernel(const T* __restrict__ gy, const T* __restrict__ x, T* __restrict__ gw, DwShape s) {
  using A = acc_t<T>;
  const int64_t taps = s.KH * s.KW;
  const int64_t oc = blockIdx.x / taps, tap = blockIdx.x % taps;
  const int64_t ki = tap / s.KW, kj = tap % s.KW;
  const int64_t c = oc / s.mult;
  const int64_t plane = s.OH * s.OW;
  A acc = 0;
  for (int64_t k = threadIdx.x; k < s.N * plane; k += blockDim.x) {
    const int64_t n = k / plane, ow = k % s.OW, oh = (k % plane) / s.OW;
    const int64_t ih = oh * s.sh - s.ph + ki * s.dh, iw = ow * s.sw - s.pw + kj * s.dw;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
    acc += cast<A>(gy[(n * s.OC + oc) * plane + oh * s.OW + ow]) * cast<A>(x[((n * s.C + c) * s.H + ih) * s.W + iw]);
  }
  __shared__ A shared[32];
  acc = block_allreduce(acc, SumFn{}, A(0), shared);
  if (threadIdx.x == 0) gw[blockIdx.x] = cast<T>(acc);
}

}  // namespace

void depthwise_conv2d_forward_cuda(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                   const ConvGeometry& g) {
  const int64_t total = g.N * g.OC * g.OH * g.OW;
  if (total == 0) return;
  KernelContext ctx(input);
  const DwShape s = dw_shape(g);
  dispatch_cuda_floating(input.dtype(), "conv2d", [&]<class T>() {
    depthwise_forward_kernel<T><<<grid_for(total, 256, ctx.device), 256, 0, ctx.stream>>>(
        static_cast<const T*>(input.data_ptr()), static_cast<const T*>(weight.data_ptr()),
        bias.defined() ? static_cast<const T*>(bias.data_ptr()) : nullptr, static_cast<T*>(out.data_ptr()), s);
    EMBER_CUDA_CHECK_LAUNCH("conv2d", cat_str("(depthwise, input ", input.shape(), ", weight ", weight.shape(), ")"));
  });
}

void depthwise_conv2d_backward_input_cuda(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                                          const ConvGeometry& g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  KernelContext ctx(grad_out);
  const DwShape s = dw_shape(g);
  dispatch_cuda_floating(grad_out.dtype(), "conv2d_backward_input", [&]<class T>() {
    depthwise_backward_input_kernel<T><<<grid_for(total, 256, ctx.device), 256, 0, ctx.stream>>>(
        static_cast<const T*>(grad_out.data_ptr()), static_cast<const T*>(weight.data_ptr()),
        static_cast<T*>(grad_input.data_ptr()), s);
    EMBER_CUDA_CHECK_LAUNCH("conv2d_backward_input",
                            cat_str("(depthwise, grad_out ", grad_out.shape(), ", weight ", weight.shape(), ")"));
  });
}

void depthwise_conv2d_backward_weight_cuda(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                                           const ConvGeometry& g) {
  const int64_t blocks = g.OC * g.KH * g.KW;
  if (blocks == 0) return;
  KernelContext ctx(grad_out);
  EMBER_CHECK(blocks <= INT32_MAX, "conv2d_backward_weight", "too many weights (", blocks, ")");
  const DwShape s = dw_shape(g);
  dispatch_cuda_floating(grad_out.dtype(), "conv2d_backward_weight", [&]<class T>() {
    depthwise_backward_weight_kernel<T><<<static_cast<unsigned>(blocks), 256, 0, ctx.stream>>>(
        static_cast<const T*>(grad_out.data_ptr()), static_cast<const T*>(input.data_ptr()),
        static_cast<T*>(grad_weight.data_ptr()), s);
    EMBER_CUDA_CHECK_LAUNCH("conv2d_backward_weight",
                            cat_str("(depthwise, grad_out ", grad_out.shape(), ", input ", input.shape(), ")"));
  });
}

}  // namespace ember
