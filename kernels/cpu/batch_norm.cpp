// CPU batch normalisation over [N, C, *]: statistics per channel c over the
// N * S values (S = spatial size), two passes (mean, then squared deviations)
// in double for accuracy. Threads over channels.
//   train forward:  y = (x - mean) * invstd * w + b, invstd = 1/sqrt(var_biased + eps);
//                   running stats move by `momentum` (running_var takes the unbiased var)
//   backward:       dx = w * invstd / M * (M*dy - sum(dy) - xhat * sum(dy*xhat))   (train)
//                   dx = w * invstd * dy                                          (eval)
// Memory: forward reads x twice and writes y once; backward reads x and dy twice.
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/widen_16bit.h"

namespace ember {
namespace {

struct BnShape {
  int64_t N, C, S;
  explicit BnShape(const Tensor& x) : N(x.size(0)), C(x.size(1)), S(x.numel() / std::max<int64_t>(x.size(0) * x.size(1), 1)) {}
};

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}

template <class T>
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
      for (int64_t n = 0; n < s.N; ++n) {
        const T* p = x + (n * s.C + c) * s.S;
        for (int64_t i = 0; i < s.S; ++i) sum += p[i];
      }
      const double mean = sum / M;
      double sq = 0;
      for (int64_t n = 0; n < s.N; ++n) {
        const T* p = x + (n * s.C + c) * s.S;
        for (int64_t i = 0; i < s.S; ++i) {
          double d = p[i] - mean;
          sq += d * d;
        }
      }
      const double var = sq / M;
      const double invstd = 1.0 / std::sqrt(var + eps);
      sm[c] = static_cast<T>(mean);
      si[c] = static_cast<T>(invstd);
      if (rm) rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
      if (rv) rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * (M > 1 ? sq / (M - 1) : var));
      const T scale = static_cast<T>(invstd * (w ? w[c] : 1.0));
      const T shift = static_cast<T>((b ? b[c] : 0.0) - mean * invstd * (w ? w[c] : 1.0));
      for (int64_t n = 0; n < s.N; ++n) {
        const T* p = x + (n * s.C + c) * s.S;
        T* q = y + (n * s.C + c) * s.S;
        for (int64_t i = 0; i < s.S; ++i) q[i] = p[i] * scale + shift;
      }
    }
  });
}

template <class T>
void forward_eval_typed(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var, double eps) {
  BnShape s(input);
  const T* x = static_cast<const T*>(input.data_ptr());
  T* y = static_cast<T*>(out.data_ptr());
  const T* w = ptr_or_null<T>(weight);
  const T* b = ptr_or_null<T>(bias);
  const T* rm = static_cast<const T*>(running_mean.data_ptr());
  const T* rv = static_cast<const T*>(running_var.data_ptr());
  parallel_for(s.N * s.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(s.S, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t c = t % s.C;
      double invstd = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
      const T scale = static_cast<T>(invstd * (w ? w[c] : 1.0));
      const T shift = static_cast<T>((b ? b[c] : 0.0) - rm[c] * invstd * (w ? w[c] : 1.0));
      const T* p = x + t * s.S;
      T* q = y + t * s.S;
      for (int64_t i = 0; i < s.S; ++i) q[i] = p[i] * scale + shift;
    }
  });
}

template <class T>
void backward_typed(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                    const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& mean_t,
                    const Tensor& invstd_t, bool train) {
  BnShape s(input);
  const T* x = static_cast<const T*>(input.data_ptr());
  const T* gy = static_cast<const T*>(grad_out.data_ptr());
  const T* w = ptr_or_null<T>(weight);
  const T* mean = static_cast<const T*>(mean_t.data_ptr());
  const T* invstd = static_cast<const T*>(invstd_t.data_ptr());
  T* gx = grad_input.defined() ? static_cast<T*>(grad_input.data_ptr()) : nullptr;
  T* gw = grad_weight.defined() ? static_cast<T*>(grad_weight.data_ptr()) : nullptr;
  T* gb = grad_bias.defined() ? static_cast<T*>(grad_bias.data_ptr()) : nullptr;
  const double M = static_cast<double>(s.N * s.S);
  parallel_for(s.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const double mu = mean[c], is = invstd[c];
      double sum_g = 0, sum_gx = 0;  // sum(dy), sum(dy * (x - mean))
      for (int64_t n = 0; n < s.N; ++n) {
        const T* p = x + (n * s.C + c) * s.S;
        const T* g = gy + (n * s.C + c) * s.S;
        for (int64_t i = 0; i < s.S; ++i) {
          sum_g += g[i];
          sum_gx += g[i] * (p[i] - mu);
        }
      }
      const double wc = w ? w[c] : 1.0;
      if (gw) gw[c] = static_cast<T>(sum_gx * is);
      if (gb) gb[c] = static_cast<T>(sum_g);
      if (!gx) continue;
      for (int64_t n = 0; n < s.N; ++n) {
        const T* p = x + (n * s.C + c) * s.S;
        const T* g = gy + (n * s.C + c) * s.S;
        T* q = gx + (n * s.C + c) * s.S;
        if (train) {
          // dx = wc*is*(dy - mean(dy) - (x-mu)*is^2*mean(dy*(x-mu)))
          const double k = sum_gx / M * is * is;
          const double mg = sum_g / M;
          const T a = static_cast<T>(wc * is);
          for (int64_t i = 0; i < s.S; ++i) q[i] = a * static_cast<T>(g[i] - mg - (p[i] - mu) * k);
        } else {
          const T a = static_cast<T>(wc * is);
          for (int64_t i = 0; i < s.S; ++i) q[i] = a * g[i];
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::batch_norm_forward_train(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                                          const Tensor& input, const Tensor& weight, const Tensor& bias,
                                          const Tensor& running_mean, const Tensor& running_var, double momentum,
                                          double eps) {
  if (any_16bit({out, input, weight, bias, running_mean, running_var})) {
    WidenedOutput y(out), rm(running_mean, true), rv(running_var, true);
    batch_norm_forward_train(y.work(), save_mean, save_invstd, widened(input), widened(weight), widened(bias),
                             rm.work(), rv.work(), momentum, eps);
    y.commit();
    rm.commit();
    return rv.commit();
  }
  dispatch_float_double(input.dtype(), "batch_norm", [&]<class T>() {
    forward_train_typed<T>(out, save_mean, save_invstd, input, weight, bias, running_mean, running_var, momentum,
                           eps);
  });
}

void CpuBackend::batch_norm_forward_eval(const Tensor& out, const Tensor& input, const Tensor& weight,
                                         const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                         double eps) {
  if (any_16bit({out, input, weight, bias, running_mean, running_var})) {
    WidenedOutput y(out);
    batch_norm_forward_eval(y.work(), widened(input), widened(weight), widened(bias), widened(running_mean),
                            widened(running_var), eps);
    return y.commit();
  }
  dispatch_float_double(input.dtype(), "batch_norm", [&]<class T>() {
    forward_eval_typed<T>(out, input, weight, bias, running_mean, running_var, eps);
  });
}

void CpuBackend::batch_norm_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                                     const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                     const Tensor& mean, const Tensor& invstd, bool train) {
  if (any_16bit({grad_input, grad_weight, grad_bias, grad_out, input, weight, mean, invstd})) {
    WidenedOutput gx(grad_input), gw(grad_weight), gb(grad_bias);
    batch_norm_backward(gx.work(), gw.work(), gb.work(), widened(grad_out), widened(input), widened(weight),
                        widened(mean), widened(invstd), train);
    gx.commit();
    gw.commit();
    return gb.commit();
  }
  dispatch_float_double(input.dtype(), "batch_norm_backward", [&]<class T>() {
    backward_typed<T>(grad_input, grad_weight, grad_bias, grad_out, input, weight, mean, invstd, train);
  });
}

}  // namespace ember
