// CPU negative log-likelihood on log-probabilities [N, C] with class indices:
// loss[n] = -w[t] * logp[n, t]; the backward writes -w[t] * grad[n] at (n, t).
// Memory: one read per sample (the gather), C writes per sample in backward.
#include <cstring>

#include "kernels/cpu/class_target.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/widen_16bit.h"

namespace ember {

void CpuBackend::nll_loss_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& logp,
                                  const Tensor& target, const Tensor& weight, int64_t ignore_index) {
  if (any_16bit({loss, weight_used, logp, weight})) {
    WidenedOutput l(loss), wu(weight_used);
    nll_loss_forward(l.work(), wu.work(), widened(logp), target, widened(weight), ignore_index);
    l.commit();
    return wu.commit();
  }
  const int64_t N = logp.size(0), C = logp.size(1);
  const int64_t* t = static_cast<const int64_t*>(target.data_ptr());
  dispatch_float_double(logp.dtype(), "nll_loss", [&]<class T>() {
    const T* lp = static_cast<const T*>(logp.data_ptr());
    const T* w = weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr;
    T* l = static_cast<T*>(loss.data_ptr());
    T* wu = static_cast<T*>(weight_used.data_ptr());
    for (int64_t n = 0; n < N; ++n) {
      check_class_index("nll_loss", t[n], n, C, ignore_index);
      if (t[n] == ignore_index) {
        l[n] = T(0);
        wu[n] = T(0);
        continue;
      }
      T wc = w ? w[t[n]] : T(1);
      l[n] = -wc * lp[n * C + t[n]];
      wu[n] = wc;
    }
  });
}

void CpuBackend::nll_loss_backward(const Tensor& grad_logp, const Tensor& grad_loss, const Tensor& target,
                                   const Tensor& weight, int64_t ignore_index) {
  if (any_16bit({grad_logp, grad_loss, weight})) {
    WidenedOutput g(grad_logp);
    nll_loss_backward(g.work(), widened(grad_loss), target, widened(weight), ignore_index);
    return g.commit();
  }
  const int64_t N = grad_logp.size(0), C = grad_logp.size(1);
  const int64_t* t = static_cast<const int64_t*>(target.data_ptr());
  dispatch_float_double(grad_logp.dtype(), "nll_loss_backward", [&]<class T>() {
    T* g = static_cast<T*>(grad_logp.data_ptr());
    const T* gl = static_cast<const T*>(grad_loss.data_ptr());
    const T* w = weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr;
    std::memset(g, 0, static_cast<size_t>(N * C) * sizeof(T));
    for (int64_t n = 0; n < N; ++n) {
      check_class_index("nll_loss", t[n], n, C, ignore_index);
      if (t[n] == ignore_index) continue;
      g[n * C + t[n]] = -(w ? w[t[n]] : T(1)) * gl[n];
    }
  });
}

}  // namespace ember
