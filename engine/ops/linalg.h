// Matrix products (torch.matmul semantics, batched with broadcasting) and the
// linear layer's function.
#pragma once

#include "engine/tensor.h"

namespace ember {

// 1-D x 1-D: dot product; 2-D x 2-D: matrix product; N-D: batched over the
// leading dims, which broadcast; a 1-D operand gets a dim prepended (left)
// or appended (right) that is removed from the result.
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x @ weight^T + bias; weight is [out_features, in_features].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace ember
