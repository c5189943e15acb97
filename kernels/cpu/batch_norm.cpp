// CPU batch normalisation over [N, C, *] (channels-last inputs: batch_norm_nhwc.cpp), with an optional activation fused
// into it (FusedActivation: ReLU, ReLU6, SiLU, Hardswish). Statistics per channel c over
// the N * S values (S = spatial size), two passes (mean, then squared
// deviations) for accuracy: each row of S values is summed in T with SIMD
// lanes, rows are added in double. Threads over channels (train, backward) or
// rows (eval).
//   forward:   y = act(pre), pre = (x - mean) * invstd * w + b,
//              invstd = 1/sqrt(var_biased + eps) (train; running_var takes
//              the unbiased var) or 1/sqrt(running_var + eps) (eval)
//   backward:  dpre = dy * act'(pre), pre recomputed from x (never stored);
//              dx = w * invstd / M * (M*dpre - sum(dpre) - xhat * sum(dpre*xhat))   (train)
//              dx = w * invstd * dpre                                               (eval)
// Memory traffic per element: train forward reads x three times (twice for
// the statistics, once for y) and writes y once; eval forward reads x once
// and writes y once; the activation costs no extra pass. Backward with an
// activation reads x and dy and writes dpre into dx, then reads x and dx and
// writes dx (without one: reads x and dy, then x and dy again and writes dx).
// The separate activation backward the fusion replaces read dy and its saved
// tensor and wrote a gradient tensor of its own.
#include <cmath>
#include <vector>

#include "kernels/cpu/batch_norm_nhwc.h"
#include "kernels/cpu/batch_norm_rows.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/sigmoid_span.h"
#include "kernels/cpu/widen_16bit.h"
#include "kernels/fused_activation.h"

namespace ember {
namespace {

struct BnShape {
  int64_t N, C, S;
  explicit BnShape(const Tensor& x) : N(x.size(0)), C(x.size(1)), S(x.numel() / std::max<int64_t>(x.size(0) * x.size(1), 1)) {}
};

// Sum of p[i] and of (p[i] - shift)^2 over a row, in T with SIMD lanes.
template <class T>
T row_sum(const T* p, int64_t S) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < S; ++i) acc += p[i];
  return acc;
}
template <class T>
T row_sum_sq(const T* p, int64_t S, T shift) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < S; ++i) acc += (p[i] - shift) * (p[i] - shift);
  return acc;
}

// d = dy * act'(p * scale + shift) over a row (d may be a scratch row).
template <class T, FusedActivation A>
void activation_grad_row(const T* p, const T* g, T* d, int64_t S, T scale, T shift) {
  if constexpr (A == FusedActivation::Silu) {
    for (int64_t i = 0; i < S; ++i) d[i] = p[i] * scale + shift;
    if constexpr (std::is_same_v<T, float>) {
      silu_backward_span(g, d, d, S);
    } else {
      for (int64_t i = 0; i < S; ++i) d[i] = math::silu_backward(g[i], d[i]);
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < S; ++i) d[i] = math::fused_activation_backward(g[i], p[i] * scale + shift, A);
  }
}

template <class T, FusedActivation A>
void forward_train_typed(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& input,
                         const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double momentum, double eps) {
  BnShape s(input);
  const T* x = static_cast<const T*>(input.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  const T* w = ptr_or_null<T>(weight);
  const T* b = ptr_or_null<T>(bias);
  T* sm = static_cast<T*>(save_mean.data_ptr());
  T* si = static_cast<T*>(save_invstd.data_ptr());
  T* rm = running_mean.defined() ? static_cast<T*>(running_mean.data_ptr()) : nullptr;
  T* rv = running_var.defined() ? static_cast<T*>(running_var.data_ptr()) : nullptr;
  const double M = static_cast<double>(s.N * s.S);
  parallel_for(s.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double sum = 0;
      for (int64_t n = 0; n < s.N; ++n) sum += row_sum(x + (n * s.C + c) * s.S, s.S);
      const double mean = sum / M;
      double sq = 0;
      for (int64_t n = 0; n < s.N; ++n) sq += row_sum_sq(x + (n * s.C + c) * s.S, s.S, static_cast<T>(mean));
      const double var = sq / M;
      const double invstd = 1.0 / std::sqrt(var + eps);
      sm[c] = static_cast<T>(mean);
      si[c] = static_cast<T>(invstd);
      if (rm) rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
      if (rv) rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * (M > 1 ? sq / (M - 1) : var));
      const T scale = static_cast<T>(invstd * (w ? w[c] : 1.0));
      const T shift = static_cast<T>((b ? b[c] : 0.0) - mean * invstd * (w ? w[c] : 1.0));
      for (int64_t n = 0; n < s.N; ++n) {
        const int64_t row = (n * s.C + c) * s.S;
        normalise_row<T, A>(x + row, y + row, s.S, scale, shift);
      }
    }
  });
}

template <class T, FusedActivation A>
void forward_eval_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var, double eps) {
  BnShape s(input);
  const T* x = static_cast<const T*>(input.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  const T* w = ptr_or_null<T>(weight);
  const T* b = ptr_or_null<T>(bias);
  std::vector<T> scale, shift;
  eval_scale_and_shift<T>(s.C, static_cast<const T*>(running_mean.data_ptr()),
                          static_cast<const T*>(running_var.data_ptr()), eps, w, b, scale, shift);
  parallel_for(s.N * s.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(s.S, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const size_t c = static_cast<size_t>(t % s.C);
      normalise_row<T, A>(x + t * s.S, y + t * s.S, s.S, scale[c], shift[c]);
    }
  });
}

template <class T, FusedActivation A>
void backward_typed(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                    const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                    const Tensor& mean_t, const Tensor& invstd_t, bool train) {
  BnShape s(input);
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* w = ptr_or_null<T>(weight);
  const T* b = ptr_or_null<T>(bias);
  const T* mean = static_cast<const T*>(mean_t.data_ptr());
  const T* invstd = static_cast<const T*>(invstd_t.data_ptr());
  T* gx = grad_input.defined() ? static_cast<T*>(grad_input.data_ptr()) : nullptr;
  T* gw = grad_weight.defined() ? static_cast<T*>(grad_weight.data_ptr()) : nullptr;
  T* gb = grad_bias.defined() ? static_cast<T*>(grad_bias.data_ptr()) : nullptr;
  const double M = static_cast<double>(s.N * s.S);
  constexpr bool kFused = A != FusedActivation::None;
  parallel_for(s.C, 1, [&](int64_t begin, int64_t end) {
    // The activation's gradient goes into dx's row (read back by the second
    // pass), or into this scratch row when dx is not wanted.
    std::vector<T> scratch(kFused && !gx ? s.S : 0);
    for (int64_t c = begin; c < end; ++c) {
      const double mu = mean[c], is = invstd[c];
      const double wc = w ? w[c] : 1.0;
      const T scale = static_cast<T>(is * wc);
      const T shift = static_cast<T>((b ? b[c] : 0.0) - mu * is * wc);
      double sum_g = 0, sum_gx = 0;  // sum(dpre), sum(dpre * (x - mean))
      for (int64_t n = 0; n < s.N; ++n) {
        const int64_t row = (n * s.C + c) * s.S;
        const T* p = x + row;
        const T* g = gy + row;
        if constexpr (kFused) {
          T* d = gx ? gx + row : scratch.data();
          activation_grad_row<T, A>(p, g, d, s.S, scale, shift);
          g = d;
        }
        T rg = 0, rgx = 0;
        const T tmu = static_cast<T>(mu);
#pragma omp simd reduction(+ : rg, rgx)
        for (int64_t i = 0; i < s.S; ++i) {
          rg += g[i];
          rgx += g[i] * (p[i] - tmu);
        }
        sum_g += rg;
        sum_gx += rgx;
      }
      if (gw) gw[c] = static_cast<T>(sum_gx * is);
      if (gb) gb[c] = static_cast<T>(sum_g);
      if (!gx) continue;
      // dx = wc*is*(dpre - mean(dpre) - (x-mu)*is^2*mean(dpre*(x-mu))) in training.
      const T a = static_cast<T>(wc * is);
      const T k = train ? static_cast<T>(sum_gx / M * is * is) : T(0);
      const T mg = train ? static_cast<T>(sum_g / M) : T(0);
      const T tmu = static_cast<T>(mu);
      for (int64_t n = 0; n < s.N; ++n) {
        const int64_t row = (n * s.C + c) * s.S;
        const T* p = x + row;
        const T* g = kFused ? gx + row : gy + row;
        T* q = gx + row;
#pragma omp simd
        for (int64_t i = 0; i < s.S; ++i) q[i] = a * (g[i] - mg - (p[i] - tmu) * k);
      }
    }
  });
}

}  // namespace

void CpuBackend::batch_norm_forward_train(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                                          const Tensor& input, const Tensor& weight, const Tensor& bias,
                                          const Tensor& running_mean, const Tensor& running_var, double momentum,
                                          double eps, FusedActivation act) {
  if (any_16bit({out, input, weight, bias, running_mean, running_var})) {
    WidenedOutput y(out), rm(running_mean, true), rv(running_var, true);
    batch_norm_forward_train(y.work(), save_mean, save_invstd, widened(input), widened(weight), widened(bias),
                             rm.work(), rv.work(), momentum, eps, act);
    y.commit();
    rm.commit();
    return rv.commit();
  }
  if (is_channels_last(input)) {
    return batch_norm_nhwc_forward_train(out, save_mean, save_invstd, input, weight, bias, running_mean, running_var,
                                         momentum, eps, act);
  }
  dispatch_float_double(input.dtype(), "batch_norm", [&]<class T>() {
    dispatch_activation(act, [&]<FusedActivation A>() {
      forward_train_typed<T, A>(out, save_mean, save_invstd, input, weight, bias, running_mean, running_var,
                                momentum, eps);
    });
  });
}

void CpuBackend::batch_norm_forward_eval(const Tensor& out, const Tensor& input, const Tensor& weight,
                                         const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                         double eps, FusedActivation act) {
  if (any_16bit({out, input, weight, bias, running_mean, running_var})) {
    WidenedOutput y(out);
    batch_norm_forward_eval(y.work(), widened(input), widened(weight), widened(bias), widened(running_mean),
                            widened(running_var), eps, act);
    return y.commit();
  }
  if (is_channels_last(input)) {
    return batch_norm_nhwc_forward_eval(out, input, weight, bias, running_mean, running_var, eps, act);
  }
  dispatch_float_double(input.dtype(), "batch_norm", [&]<class T>() {
    dispatch_activation(act, [&]<FusedActivation A>() {
      forward_eval_typed<T, A>(out, input, weight, bias, running_mean, running_var, eps);
    });
  });
}

void CpuBackend::batch_norm_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                                     const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                     const Tensor& bias, const Tensor& mean, const Tensor& invstd, bool train,
                                     FusedActivation act) {
  if (any_16bit({grad_input, grad_weight, grad_bias, grad_out, input, weight, bias, mean, invstd})) {
    WidenedOutput gx(grad_input), gw(grad_weight), gb(grad_bias);
    batch_norm_backward(gx.work(), gw.work(), gb.work(), widened(grad_out), widened(input), widened(weight),
                        widened(bias), widened(mean), widened(invstd), train, act);
    gx.commit();
    gw.commit();
    return gb.commit();
  }
  if (is_channels_last(input)) {
    return batch_norm_nhwc_backward(grad_input, grad_weight, grad_bias, grad_out, input, weight, bias, mean, invstd,
                                    train, act);
  }
  dispatch_float_double(input.dtype(), "batch_norm_backward", [&]<class T>() {
    dispatch_activation(act, [&]<FusedActivation A>() {
      backward_typed<T, A>(grad_input, grad_weight, grad_bias, grad_out, input, weight, bias, mean, invstd, train);
    });
  });
}

}  // namespace ember
