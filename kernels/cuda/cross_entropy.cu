// Fused softmax cross-entropy on CUDA, logits [N, C] with int64 class
// targets, for float, double, half and bfloat16 (16-bit types compute in
// float); formulas in engine/backend.h.
//   forward:  per row, lse = max + log sum exp(x - max), then
//             loss = (1 - e) w[t] (lse - x[t]) + e / C (lse sum(w) - sum w[c] x[c])
//   backward: dx[c] = g ((1 - e) w[t] + e/C sum(w)) exp(x[c] - lse) - g e/C w[c],
//             minus g (1 - e) w[t] at c = t; ignored rows are 0.
// Launch shape: one warp per row, 8 rows per 256-thread block (grid-stride
// over rows); lanes read consecutive classes, the row sums are warp
// shuffles (sum w too, when smoothing needs it).
// Memory traffic per element: forward reads x twice (the second time from
// L1/L2 for rows of ordinary length), backward reads x and writes dx once;
// nothing of size N x C is written by the forward (the composed
// log_softmax + NLL wrote and re-read log-probabilities and zero-filled the
// gradient).
#include <limits>

#include "kernels/cuda/bad_target_flag.cuh"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/reduce.cuh"

namespace ember {
namespace {

constexpr int kRowsPerBlock = 8;  // warps of a 256-thread block

struct MaxFn {
  template <class A> __device__ __forceinline__ A operator()(A a, A b) const { return a > b ? a : b; }
};

template <class T>
__global__ void __launch_bounds__(256)
    ce_forward_kernel(const T* __restrict__ x, const int64_t* __restrict__ target, const T* __restrict__ weight,
                      T* __restrict__ loss, T* __restrict__ used,
                      T* __restrict__ lse_out, int64_t N, int64_t C, int64_t ignore_index, acc_t<T> eps,
                      unsigned long long* bad) {
  using A = acc_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t row_step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5); n < N; n += row_step) {
    const T* row = x + n * C;
    A mx = -std::numeric_limits<A>::infinity();
    for (int64_t c = lane; c < C; c += 32) mx = MaxFn{}(mx, cast<A>(row[c]));
    mx = warp_allreduce(mx, MaxFn{});
    A s = 0, wx = 0, w_total = 0;  // sum exp(x - max); with smoothing, sum w x and sum w
    for (int64_t c = lane; c < C; c += 32) {
      const A v = cast<A>(row[c]);
      s += exp(v - mx);
      if (eps > A(0)) {
        const A wc = weight ? cast<A>(weight[c]) : A(1);
        wx += wc * v;
        w_total += wc;
      }
    }
    s = warp_allreduce(s, SumFn{});
    wx = warp_allreduce(wx, SumFn{});
    w_total = warp_allreduce(w_total, SumFn{});
    if (lane == 0) {  // every lane holds the sums; one writes (no lane leaves the loop early)
      const A lse = mx + log(s);
      lse_out[n] = cast<T>(lse);
      const int64_t t = target[n];
      A value = 0, wt = 0;
      if (t != ignore_index && (t < 0 || t >= C)) {
        flag_bad_target(bad, n);
      } else if (t != ignore_index) {
        wt = weight ? cast<A>(weight[t]) : A(1);
        value = (A(1) - eps) * wt * (lse - cast<A>(row[t]));
        if (eps > A(0)) value += eps / static_cast<A>(C) * (lse * w_total - wx);
      }
      loss[n] = cast<T>(value);
      used[n] = cast<T>(wt);
    }
  }
}

template <class T>
__global__ void __launch_bounds__(256)
    ce_backward_kernel(T* __restrict__ dx, const T* __restrict__ grad_loss, const T* __restrict__ x,
                       const T* __restrict__ lse, const int64_t* __restrict__ target, const T* __restrict__ weight,
                       int64_t N, int64_t C, int64_t ignore_index, acc_t<T> eps, unsigned long long* bad) {
  using A = acc_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t row_step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5); n < N; n += row_step) {
    T* out = dx + n * C;
    const int64_t t = target[n];
    if (t == ignore_index || t < 0 || t >= C) {
      if (t != ignore_index && lane == 0) flag_bad_target(bad, n);
      for (int64_t c = lane; c < C; c += 32) out[c] = cast<T>(A(0));
      continue;
    }
    A w_total = static_cast<A>(C);  // sum w, needed with smoothing: the weights are read from cache
    if (weight && eps > A(0)) {
      w_total = 0;
      for (int64_t c = lane; c < C; c += 32) w_total += cast<A>(weight[c]);
      w_total = warp_allreduce(w_total, SumFn{});
    }
    const T* row = x + n * C;
    const A g = cast<A>(grad_loss[n]), m = cast<A>(lse[n]);
    const A smooth = eps / static_cast<A>(C);
    const A hard = (A(1) - eps) * (weight ? cast<A>(weight[t]) : A(1));
    const A p_scale = g * (hard + smooth * w_total);
    for (int64_t c = lane; c < C; c += 32) {
      A v = p_scale * exp(cast<A>(row[c]) - m) - g * smooth * (weight ? cast<A>(weight[c]) : A(1));
      if (c == t) v -= g * hard;
      out[c] = cast<T>(v);
    }
  }
}

// Blocks of kRowsPerBlock warps covering N rows (grid-stride beyond a few waves).
unsigned row_blocks(int64_t N, int device) { return grid_for(N * 32, 256, device); }

// What both passes share: the int64 check, the launch on the logits'
// stream, the launch check and the bad-target report. launch<T>(blocks,
// stream, flag) starts the kernel.
template <class Launch>
void run_rows(const char* op, const Tensor& logits, const Tensor& target, Launch&& launch) {
  const int64_t N = logits.size(0), C = logits.size(1);
  EMBER_CHECK(target.dtype() == DType::Int64, op, "expects int64 targets");
  if (N == 0) return;
  KernelContext ctx(logits);
  BadTargetFlag flag(ctx, op);
  dispatch_cuda_floating(logits.dtype(), op, [&]<class T>() {
    launch.template operator()<T>(row_blocks(N, ctx.device), ctx.stream, flag.get());
    EMBER_CUDA_CHECK_LAUNCH(op, cat_str("([", N, ", ", C, "])"));
  });
  flag.check(target, C);
}

}  // namespace

void CudaBackend::cross_entropy_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& lse,
                                        const Tensor& logits, const Tensor& target, const Tensor& weight,
                                        int64_t ignore_index, double label_smoothing) {
  run_rows("cross_entropy", logits, target, [&]<class T>(unsigned blocks, cudaStream_t stream, unsigned long long* bad) {
    ce_forward_kernel<T><<<blocks, 256, 0, stream>>>(
        static_cast<const T*>(logits.data_ptr()), static_cast<const int64_t*>(target.data_ptr()),
        weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr, static_cast<T*>(loss.data_ptr()),
        static_cast<T*>(weight_used.data_ptr()), static_cast<T*>(lse.data_ptr()), logits.size(0), logits.size(1),
        ignore_index, static_cast<acc_t<T>>(label_smoothing), bad);
  });
}

void CudaBackend::cross_entropy_backward(const Tensor& grad_logits, const Tensor& grad_loss, const Tensor& logits,
                                         const Tensor& lse, const Tensor& target, const Tensor& weight,
                                         int64_t ignore_index, double label_smoothing) {
  run_rows("cross_entropy_backward", logits, target,
           [&]<class T>(unsigned blocks, cudaStream_t stream, unsigned long long* bad) {
             ce_backward_kernel<T><<<blocks, 256, 0, stream>>>(
                 static_cast<T*>(grad_logits.data_ptr()), static_cast<const T*>(grad_loss.data_ptr()),
                 static_cast<const T*>(logits.data_ptr()), static_cast<const T*>(lse.data_ptr()),
                 static_cast<const int64_t*>(target.data_ptr()),
                 weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr, logits.size(0),
                 logits.size(1), ignore_index, static_cast<acc_t<T>>(label_smoothing), bad);
           });
}

}  // namespace ember
