// CPU softmax / log-softmax over the middle dim of [outer, D, inner]:
// subtract the max, exponentiate, normalise (log: x - max - log(sum exp)).
// Backward: softmax  dx = y * (dy - sum(dy * y));
//           log      dx = dy - exp(y) * sum(dy).
// Sums in double. Threads over outer*inner lines. Memory: x read twice, y written once.
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/widen_16bit.h"

namespace ember {

void CpuBackend::softmax_forward(const Tensor& out, const Tensor& in, int64_t outer, int64_t D, int64_t inner,
                                 bool log) {
  if (any_16bit({out, in})) {
    WidenedOutput y(out);
    softmax_forward(y.work(), widened(in), outer, D, inner, log);
    return y.commit();
  }
  dispatch_float_double(in.dtype(), log ? "log_softmax" : "softmax", [&]<class T>() {
    const T* x = static_cast<const T*>(in.data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(D, 1)), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        int64_t o = t / inner, i = t % inner;
        const T* p = x + o * D * inner + i;
        T* q = y + o * D * inner + i;
        T mx = -std::numeric_limits<T>::infinity();
        for (int64_t d = 0; d < D; ++d) mx = std::max(mx, p[d * inner]);
        if (std::isinf(mx) && mx < 0) mx = 0;  // all -inf: avoid inf - inf
        double sum = 0;
        for (int64_t d = 0; d < D; ++d) sum += std::exp(static_cast<double>(p[d * inner] - mx));
        if (log) {
          const T lse = static_cast<T>(std::log(sum)) + mx;
          for (int64_t d = 0; d < D; ++d) q[d * inner] = p[d * inner] - lse;
        } else {
          const double inv = 1.0 / sum;
          for (int64_t d = 0; d < D; ++d) q[d * inner] = static_cast<T>(std::exp(static_cast<double>(p[d * inner] - mx)) * inv);
        }
      }
    });
  });
}

void CpuBackend::softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out, int64_t outer,
                                  int64_t D, int64_t inner, bool log) {
  if (any_16bit({grad_in, grad_out, out})) {
    WidenedOutput gx(grad_in);
    softmax_backward(gx.work(), widened(grad_out), widened(out), outer, D, inner, log);
    return gx.commit();
  }
  dispatch_float_double(out.dtype(), "softmax_backward", [&]<class T>() {
    const T* gy = static_cast<const T*>(grad_out.data_ptr());
    const T* y = static_cast<const T*>(out.data_ptr());
    T* gx = static_cast<T*>(grad_in.data_ptr());
    parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(D, 1)), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        int64_t base = (t / inner) * D * inner + t % inner;
        double sum = 0;
        if (log) {
          for (int64_t d = 0; d < D; ++d) sum += gy[base + d * inner];
          for (int64_t d = 0; d < D; ++d) {
            int64_t k = base + d * inner;
            gx[k] = static_cast<T>(gy[k] - std::exp(static_cast<double>(y[k])) * sum);
          }
        } else {
          for (int64_t d = 0; d < D; ++d) sum += static_cast<double>(gy[base + d * inner]) * y[base + d * inner];
          for (int64_t d = 0; d < D; ++d) {
            int64_t k = base + d * inner;
            gx[k] = static_cast<T>(y[k] * (gy[k] - sum));
          }
        }
      }
    });
  });
}

}  // namespace ember
