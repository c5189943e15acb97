#include "kernels/cpu/widen_16bit.h"

#include "kernels/cpu/cpu_backend.h"

namespace ember {

bool any_16bit(std::initializer_list<Tensor> tensors) {
  for (const Tensor& t : tensors) {
    if (t.defined() && is_16bit_float(t.dtype())) return true;
  }
  return false;
}

Tensor widened(const Tensor& t) {
  if (!t.defined() || !is_16bit_float(t.dtype())) return t;
  // Same layout as t (channels-last stays so), so kernels read both alike.
  Tensor wide = empty(t.shape(), TensorOptions(DType::Float32, t.device()), suggest_memory_format(t));
  cpu_backend().copy(wide, t);
  return wide;
}

WidenedOutput::WidenedOutput(const Tensor& out, bool read_first) : out_(out), work_(out) {
  if (!out.defined() || !is_16bit_float(out.dtype())) return;
  work_ = read_first ? widened(out)
                     : empty(out.shape(), TensorOptions(DType::Float32, out.device()), suggest_memory_format(out));
}

void WidenedOutput::commit() const {
  if (!work_.is_same(out_)) cpu_backend().copy(out_, work_);
}

}  // namespace ember
