// CPU batch normalisation on channels-last tensors, memory [P, C] with
// P = N*H*W pixels; formulas as in batch_norm.cpp. Every loop runs along a
// pixel's C contiguous channels with per-channel scale and shift vectors, so
// it vectorises whatever the spatial size (NCHW's rows are only 49 long at
// ResNet's last stage). The per-channel statistics are column sums: each
// thread sums a range of pixels, 32 pixels at a time in T lanes, the blocks
// added in double, then the threads' sums added up.
// Memory traffic per element is that of batch_norm.cpp: train forward reads
// x three times and writes y once; eval forward reads x and writes y once;
// backward reads x and dy (writing dpre into dx with an activation), then x
// and dy (or dx) again and writes dx.
#include "kernels/cpu/batch_norm_nhwc.h"
#include "kernels/cpu/batch_norm_rows.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/sigmoid_span.h"
#include "kernels/fused_activation.h"

namespace ember {
namespace {

constexpr int64_t kBlockPixels = 32;

// sums[j*C + c] (Terms sums per channel) = the sum over pixels m of what
// add_pixel(m, block) adds into block[j*C + c].
template <class T, int Terms, class AddPixel>
std::vector<double> channel_sums(int64_t P, int64_t C, AddPixel&& add_pixel) {
  const int64_t threads = std::clamp<int64_t>(P / (4 * kBlockPixels), 1, cpu_threads());
  std::vector<std::vector<double>> partial(static_cast<size_t>(threads),
                                           std::vector<double>(static_cast<size_t>(Terms * C), 0.0));
  parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
    std::vector<T> block(static_cast<size_t>(Terms * C));
    for (int64_t t = t0; t < t1; ++t) {
      double* acc = partial[static_cast<size_t>(t)].data();
      const int64_t end = P * (t + 1) / threads;
      for (int64_t m0 = P * t / threads; m0 < end; m0 += kBlockPixels) {
        std::fill(block.begin(), block.end(), T(0));
        for (int64_t m = m0; m < std::min(end, m0 + kBlockPixels); ++m) add_pixel(m, block.data());
        for (int64_t i = 0; i < Terms * C; ++i) acc[i] += block[static_cast<size_t>(i)];
      }
    }
  });
  std::vector<double> sums(static_cast<size_t>(Terms * C), 0.0);
  for (const std::vector<double>& p : partial)
    for (size_t i = 0; i < sums.size(); ++i) sums[i] += p[i];
  return sums;
}

// d = dy * act'(p * scale + shift) over one pixel's channels.
template <class T, FusedActivation A>
void activation_grad_pixel(const T* p, const T* g, T* d, int64_t C, const T* scale, const T* shift) {
  if constexpr (A == FusedActivation::Silu) {
    for (int64_t c = 0; c < C; ++c) d[c] = p[c] * scale[c] + shift[c];
    if constexpr (std::is_same_v<T, float>) {
      silu_backward_span(g, d, d, C);
    } else {
      for (int64_t c = 0; c < C; ++c) d[c] = math::silu_backward(g[c], d[c]);
    }
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) d[c] = math::fused_activation_backward(g[c], p[c] * scale[c] + shift[c], A);
  }
}

template <class T, FusedActivation A>
void normalise_all(const T* x, T* y, int64_t P, int64_t C, const std::vector<T>& scale, const std::vector<T>& shift) {
  parallel_for(P, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) normalise_pixel<T, A>(x + m * C, y + m * C, C, scale.data(), shift.data());
  });
}

template <class T, FusedActivation A>
void forward_train_typed(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& input,
                         const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double momentum, double eps) {
  const int64_t C = input.size(1), P = input.numel() / std::max<int64_t>(C, 1);
  const T* x = static_cast<const T*>(input.data_ptr());
  const double M = static_cast<double>(P);
  std::vector<double> mean = channel_sums<T, 1>(P, C, [&](int64_t m, T* acc) {
    const T* r = x + m * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) acc[c] += r[c];
  });
  std::vector<T> shiftT(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    mean[static_cast<size_t>(c)] /= M;
    shiftT[static_cast<size_t>(c)] = static_cast<T>(mean[static_cast<size_t>(c)]);
  }
  const std::vector<double> sq = channel_sums<T, 1>(P, C, [&](int64_t m, T* acc) {
    const T* r = x + m * C;
    const T* mu = shiftT.data();
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) acc[c] += (r[c] - mu[c]) * (r[c] - mu[c]);
  });
  T* sm = static_cast<T*>(save_mean.data_ptr());
  T* si = static_cast<T*>(save_invstd.data_ptr());
  T* rm = running_mean.defined() ? static_cast<T*>(running_mean.data_ptr()) : nullptr;
  T* rv = running_var.defined() ? static_cast<T*>(running_var.data_ptr()) : nullptr;
  std::vector<double> invstd(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const size_t i = static_cast<size_t>(c);
    const double var = sq[i] / M;
    invstd[i] = 1.0 / std::sqrt(var + eps);
    sm[c] = static_cast<T>(mean[i]);
    si[c] = static_cast<T>(invstd[i]);
    if (rm) rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean[i]);
    if (rv) rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * (M > 1 ? sq[i] / (M - 1) : var));
  }
  std::vector<T> scale, shift;
  scale_and_shift<T>(C, mean.data(), invstd.data(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), scale, shift);
  normalise_all<T, A>(x, static_cast<T*>(out.data_ptr()), P, C, scale, shift);
}

template <class T, FusedActivation A>
void forward_eval_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var, double eps) {
  const int64_t C = input.size(1), P = input.numel() / std::max<int64_t>(C, 1);
  std::vector<T> scale, shift;
  eval_scale_and_shift<T>(C, static_cast<const T*>(running_mean.data_ptr()),
                          static_cast<const T*>(running_var.data_ptr()), eps, ptr_or_null<T>(weight),
                          ptr_or_null<T>(bias), scale, shift);
  normalise_all<T, A>(static_cast<const T*>(input.data_ptr()), static_cast<T*>(out.data_ptr()), P, C, scale, shift);
}

template <class T, FusedActivation A>
void backward_typed(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                    const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                    const Tensor& mean_t, const Tensor& invstd_t, bool train) {
  const int64_t C = input.size(1), P = input.numel() / std::max<int64_t>(C, 1);
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* w = ptr_or_null<T>(weight);
  T* gx = grad_input.defined() ? static_cast<T*>(grad_input.data_ptr()) : nullptr;
  T* gw = grad_weight.defined() ? static_cast<T*>(grad_weight.data_ptr()) : nullptr;
  T* gb = grad_bias.defined() ? static_cast<T*>(grad_bias.data_ptr()) : nullptr;
  std::vector<double> mean(static_cast<size_t>(C)), invstd(static_cast<size_t>(C));
  std::vector<T> mu(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    mean[static_cast<size_t>(c)] = static_cast<const T*>(mean_t.data_ptr())[c];
    invstd[static_cast<size_t>(c)] = static_cast<const T*>(invstd_t.data_ptr())[c];
    mu[static_cast<size_t>(c)] = static_cast<T>(mean[static_cast<size_t>(c)]);
  }
  std::vector<T> scale, shift;
  scale_and_shift<T>(C, mean.data(), invstd.data(), w, ptr_or_null<T>(bias), scale, shift);
  constexpr bool kFused = A != FusedActivation::None;
  // The activation's gradient dpre goes into dx (read back by the last
  // pass), or into scratch when dx is not wanted.
  std::vector<T> scratch(kFused && !gx ? static_cast<size_t>(P * C) : 0);
  T* dpre = kFused ? (gx ? gx : scratch.data()) : nullptr;
  // sums[c] = sum(dpre), sums[C + c] = sum(dpre * (x - mean)).
  const std::vector<double> sums = channel_sums<T, 2>(P, C, [&](int64_t m, T* acc) {
    const T* p = x + m * C;
    const T* g = gy + m * C;
    if constexpr (kFused) {
      activation_grad_pixel<T, A>(p, g, dpre + m * C, C, scale.data(), shift.data());
      g = dpre + m * C;
    }
    const T* mup = mu.data();
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      acc[c] += g[c];
      acc[C + c] += g[c] * (p[c] - mup[c]);
    }
  });
  const double M = static_cast<double>(P);
  std::vector<T> a(static_cast<size_t>(C)), k(static_cast<size_t>(C)), mg(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const size_t i = static_cast<size_t>(c);
    const double is = invstd[i];
    if (gw) gw[c] = static_cast<T>(sums[C + c] * is);
    if (gb) gb[c] = static_cast<T>(sums[i]);
    a[i] = static_cast<T>((w ? w[c] : 1.0) * is);
    k[i] = train ? static_cast<T>(sums[C + c] / M * is * is) : T(0);
    mg[i] = train ? static_cast<T>(sums[i] / M) : T(0);
  }
  if (!gx) return;
  // dx = w*is*(dpre - mean(dpre) - (x-mu)*is^2*mean(dpre*(x-mu))) in training.
  parallel_for(P, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t begin, int64_t end) {
    const T *ap = a.data(), *kp = k.data(), *mgp = mg.data(), *mup = mu.data();
    for (int64_t m = begin; m < end; ++m) {
      const T* p = x + m * C;
      const T* g = kFused ? gx + m * C : gy + m * C;
      T* q = gx + m * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) q[c] = ap[c] * (g[c] - mgp[c] - (p[c] - mup[c]) * kp[c]);
    }
  });
}

}  // namespace

void batch_norm_nhwc_forward_train(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                                   const Tensor& input, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                                   FusedActivation act) {
  dispatch_float_double(input.dtype(), "batch_norm", [&]<class T>() {
    dispatch_activation(act, [&]<FusedActivation A>() {
      forward_train_typed<T, A>(out, save_mean, save_invstd, input, weight, bias, running_mean, running_var,
                                momentum, eps);
    });
  });
}

void batch_norm_nhwc_forward_eval(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, double eps,
                                  FusedActivation act) {
  dispatch_float_double(input.dtype(), "batch_norm", [&]<class T>() {
    dispatch_activation(act, [&]<FusedActivation A>() {
      forward_eval_typed<T, A>(out, input, weight, bias, running_mean, running_var, eps);
    });
  });
}

void batch_norm_nhwc_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                              const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                              const Tensor& mean, const Tensor& invstd, bool train, FusedActivation act) {
  dispatch_float_double(input.dtype(), "batch_norm_backward", [&]<class T>() {
    dispatch_activation(act, [&]<FusedActivation A>() {
      backward_typed<T, A>(grad_input, grad_weight, grad_bias, grad_out, input, weight, bias, mean, invstd, train);
    });
  });
}

}  // namespace ember
