// 16-bit floats on the CPU backend.
//
// The CPU kernels that accumulate (convolution, matrix products, batch norm,
// pooling, softmax, NLL) are written for float32 and float64. A call with
// float16 or bfloat16 tensors runs them in float32: each 16-bit input is
// widened to a float32 copy, each 16-bit output is computed into float32
// scratch and rounded once at the end. That is the arithmetic mixed
// precision asks for (float32 accumulation, one rounding per result) and the
// one cuDNN and cuBLAS do with 16-bit data, so both backends keep one
// contract. It costs a copy each way; the CPU is not where 16-bit pays.
#pragma once

#include <initializer_list>

#include "engine/tensor.h"

namespace ember {

bool any_16bit(std::initializer_list<Tensor> tensors);  // undefined tensors count as not 16-bit

// A float32 copy of a 16-bit tensor; any other tensor (or undefined) as is.
Tensor widened(const Tensor& t);

// An output of a widened call. work() is a float32 stand-in for a 16-bit
// output (the output itself otherwise); commit() rounds it into the output.
// With read_first the stand-in starts from the output's values (running
// statistics updated in place).
class WidenedOutput {
 public:
  explicit WidenedOutput(const Tensor& out, bool read_first = false);
  const Tensor& work() const { return work_; }
  void commit() const;

 private:
  Tensor out_, work_;
};

}  // namespace ember
