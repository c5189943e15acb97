// Fused softmax cross-entropy on the CPU, logits [N, C] with class targets
// (formulas: engine/backend.h). Per row, forward: the maximum, then
// lse = max + log sum exp(x - max) (float32: Eigen's vectorised exp, as in
// elementwise.cpp, summed in float lanes as PyTorch does; float64: in
// double), then the loss from lse, x[t] and, with label smoothing,
// sum w[c] x[c]; the backward writes each gradient from p = exp(x - lse).
// Rows are split over threads.
// Memory traffic per element: forward reads x twice (the second pass from
// cache for rows that fit), backward reads x once and writes the gradient
// once; the composed log_softmax + NLL also wrote and re-read N x C
// log-probabilities and zero-filled the gradient first.
#include <Eigen/Core>
#include <cmath>
#include <type_traits>

#include "kernels/cpu/class_target.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/widen_16bit.h"

namespace ember {
namespace {

const int64_t* targets_checked(const Tensor& target, int64_t C, int64_t ignore_index, const char* op) {
  const int64_t* t = static_cast<const int64_t*>(target.data_ptr());
  for (int64_t n = 0; n < target.numel(); ++n) check_class_index(op, t[n], n, C, ignore_index);
  return t;
}

template <class T>
double weight_sum(const T* w, int64_t C) {
  if (!w) return static_cast<double>(C);
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += w[c];
  return s;
}

template <class T>
void forward_typed(const Tensor& loss, const Tensor& weight_used, const Tensor& lse_out, const Tensor& logits,
                   const int64_t* t, const Tensor& weight, int64_t ignore_index, double eps) {
  const int64_t N = logits.size(0), C = logits.size(1);
  const T* x = static_cast<const T*>(logits.data_ptr());
  const T* w = weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr;
  T* l = static_cast<T*>(loss.data_ptr());
  T* used = static_cast<T*>(weight_used.data_ptr());
  T* lse = static_cast<T*>(lse_out.data_ptr());
  const double w_total = weight_sum(w, C);
  parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const T* row = x + n * C;
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < C; ++c) mx = std::max(mx, row[c]);
      double s = 0, wx = 0;
      int64_t c = 0;
      if constexpr (std::is_same_v<T, float>) {  // Eigen's vectorised exp, summed in float lanes as PyTorch does
        s = (Eigen::Map<const Eigen::ArrayXf>(row, C) - mx).exp().sum();
        c = C;
      }
      for (; c < C; ++c) s += std::exp(static_cast<double>(row[c] - mx));
      if (eps > 0) {
        for (int64_t k = 0; k < C; ++k) wx += (w ? static_cast<double>(w[k]) : 1.0) * static_cast<double>(row[k]);
      }
      const double log_sum = static_cast<double>(mx) + std::log(s);
      lse[n] = static_cast<T>(log_sum);
      if (t[n] == ignore_index) {
        l[n] = T(0);
        used[n] = T(0);
        continue;
      }
      const double wt = w ? static_cast<double>(w[t[n]]) : 1.0;
      double value = (1.0 - eps) * wt * (log_sum - static_cast<double>(row[t[n]]));
      if (eps > 0) value += eps / static_cast<double>(C) * (log_sum * w_total - wx);
      l[n] = static_cast<T>(value);
      used[n] = static_cast<T>(wt);
    }
  });
}

template <class T>
void backward_typed(const Tensor& grad_logits, const Tensor& grad_loss, const Tensor& logits, const Tensor& lse_in,
                    const int64_t* t, const Tensor& weight, int64_t ignore_index, double eps) {
  const int64_t N = logits.size(0), C = logits.size(1);
  const T* x = static_cast<const T*>(logits.data_ptr());
  const T* gl = static_cast<const T*>(grad_loss.data_ptr());
  const T* lse = static_cast<const T*>(lse_in.data_ptr());
  const T* w = weight.defined() ? static_cast<const T*>(weight.data_ptr()) : nullptr;
  T* gx = static_cast<T*>(grad_logits.data_ptr());
  const T w_total = static_cast<T>(weight_sum(w, C));
  const T smooth = static_cast<T>(eps / static_cast<double>(C));
  parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const T* row = x + n * C;
      T* out = gx + n * C;
      if (t[n] == ignore_index) {
        std::fill(out, out + C, T(0));
        continue;
      }
      // g ((1 - e) w[t] + e/C sum(w)) p - g e/C w[c], then - g (1 - e) w[t] at c = t.
      const T g = gl[n];
      const T hard = static_cast<T>(1.0 - eps) * (w ? w[t[n]] : T(1));
      const T p_scale = g * (hard + smooth * w_total);
      const T m = lse[n];
      const T uniform = g * smooth;  // the smoothing's constant part, times w[c]
      int64_t c = 0;
      if constexpr (std::is_same_v<T, float>) {
        const Eigen::Map<const Eigen::ArrayXf> r(row, C);
        Eigen::Map<Eigen::ArrayXf> o(out, C);
        if (w) {
          o = p_scale * (r - m).exp() - uniform * Eigen::Map<const Eigen::ArrayXf>(w, C);
        } else {
          o = p_scale * (r - m).exp() - uniform;
        }
        c = C;
      }
      for (; c < C; ++c) out[c] = p_scale * std::exp(row[c] - m) - uniform * (w ? w[c] : T(1));
      out[t[n]] -= g * hard;
    }
  });
}

}  // namespace

void CpuBackend::cross_entropy_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& lse,
                                       const Tensor& logits, const Tensor& target, const Tensor& weight,
                                       int64_t ignore_index, double label_smoothing) {
  if (any_16bit({loss, weight_used, lse, logits, weight})) {
    WidenedOutput l(loss), wu(weight_used), m(lse);
    cross_entropy_forward(l.work(), wu.work(), m.work(), widened(logits), target, widened(weight), ignore_index,
                          label_smoothing);
    l.commit();
    wu.commit();
    return m.commit();
  }
  const int64_t* t = targets_checked(target, logits.size(1), ignore_index, "cross_entropy");
  dispatch_float_double(logits.dtype(), "cross_entropy", [&]<class T>() {
    forward_typed<T>(loss, weight_used, lse, logits, t, weight, ignore_index, label_smoothing);
  });
}

void CpuBackend::cross_entropy_backward(const Tensor& grad_logits, const Tensor& grad_loss, const Tensor& logits,
                                        const Tensor& lse, const Tensor& target, const Tensor& weight,
                                        int64_t ignore_index, double label_smoothing) {
  if (any_16bit({grad_logits, grad_loss, logits, lse, weight})) {
    WidenedOutput g(grad_logits);
    cross_entropy_backward(g.work(), widened(grad_loss), widened(logits), widened(lse), target, widened(weight),
                           ignore_index, label_smoothing);
    return g.commit();
  }
  const int64_t* t = targets_checked(target, logits.size(1), ignore_index, "cross_entropy_backward");
  dispatch_float_double(logits.dtype(), "cross_entropy_backward", [&]<class T>() {
    backward_typed<T>(grad_logits, grad_loss, logits, lse, t, weight, ignore_index, label_smoothing);
  });
}

}  // namespace ember
