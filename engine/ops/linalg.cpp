// matmul: reduce every case to the backend's batched [B, M, K] x [B, K, N].
// When the right operand is a single matrix, the left's batch dims fold into
// M (one large GEMM instead of B small ones): the common case of a linear layer.
#include "engine/ops/linalg.h"

#include "engine/autocast.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace ember {
namespace {

// A matrix (the last two dims) the kernel can read without a copy: row- or
// column-major with a sane leading stride.
bool gemm_ready(const Tensor& t) {
  int64_t n = t.dim();
  int64_t rows = t.size(n - 2), cols = t.size(n - 1), rs = t.stride(n - 2), cs = t.stride(n - 1);
  bool row_major = (cs == 1 || cols == 1) && (rs >= cols || rows == 1) && rs > 0;
  bool col_major = (rs == 1 || rows == 1) && (cs >= rows || cols == 1) && cs > 0;
  return row_major || col_major;
}

Tensor as_gemm_operand(const Tensor& t) { return gemm_ready(t) ? t : t.contiguous(); }

// Both operands at least 2-D; no autograd.
Tensor matmul_kernel(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  EMBER_CHECK(b.size(-2) == K, "matmul", "shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (", K,
              " vs ", b.size(-2), ")");
  EMBER_CHECK(a.dtype() == b.dtype(), "matmul", "expected both operands of one dtype, got ", dtype_name(a.dtype()),
              " and ", dtype_name(b.dtype()));
  Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Backend& be = backend(a.device());
  if (batch_b.empty() || shape_numel(batch_b) == 1) {
    // Fold the batch of `a` into its rows when that needs no copy.
    Tensor a_rows;
    if (a.dim() == 2) {
      a_rows = as_gemm_operand(a.detach());
    } else {
      Shape full = batch;
      full.push_back(M);
      full.push_back(K);
      a_rows = a.detach().expand(full).contiguous().reshape({-1, K});
    }
    Tensor b2 = as_gemm_operand(b.detach().reshape({K, N}));
    Tensor out = empty({1, a_rows.size(0), N}, TensorOptions(a.dtype(), a.device()));
    if (out.numel() > 0) be.matmul(out, a_rows.unsqueeze(0), b2.unsqueeze(0));
    return out.reshape(out_shape);
  }
  int64_t B = shape_numel(batch);
  auto to3 = [&](const Tensor& t, int64_t rows, int64_t cols) {
    Shape full = batch;
    full.push_back(rows);
    full.push_back(cols);
    Tensor e = t.detach().expand(full);
    // The batch dims collapse to one stride only when they are contiguous (or all broadcast).
    Tensor v = e.contiguous().reshape({B, rows, cols});
    return as_gemm_operand(v);
  };
  Tensor a3 = to3(a, M, K), b3 = to3(b, K, N);
  Tensor out = empty({B, M, N}, TensorOptions(a.dtype(), a.device()));
  if (out.numel() > 0) be.matmul(out, a3, b3);
  return out.reshape(out_shape);
}

Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.device() == b.device(), "matmul", "operands on different devices: ", a.device().str(), " and ",
              b.device().str());
  Tensor out = matmul_kernel(a, b);
  if (any_requires_grad({a, b})) {
    record("MatmulBackward", out, {a, b}, [sa = Saved(a), sb = Saved(b)](const Tensor& g, const NeedsGrad& needs) {
      const Tensor& x = sa.get();
      const Tensor& y = sb.get();
      std::vector<Tensor> grads(2);
      if (needs[0]) grads[0] = sum_to(matmul_kernel(g, y.transpose(-1, -2)), x.shape());
      if (needs[1]) grads[1] = sum_to(matmul_kernel(x.transpose(-1, -2), g), y.shape());
      return grads;
    });
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_arg, const Tensor& b_arg) {
  // Under autocast the product runs in the 16-bit type (engine/autocast.h).
  const Tensor a = autocast_to_lower(a_arg), b = autocast_to_lower(b_arg);
  EMBER_CHECK(a.defined() && b.defined(), "matmul", "got an undefined tensor");
  EMBER_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul", "both operands need at least 1 dim, got shapes ", a.shape(),
              " and ", b.shape());
  EMBER_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), "matmul", "needs floating-point operands, got ",
              dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  if (a.dim() == 1 && b.dim() == 1) {
    EMBER_CHECK(a.size(0) == b.size(0), "matmul", "1-D operands of sizes ", a.size(0), " and ", b.size(0),
                " differ");
    return matmul_nd(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  }
  if (a.dim() == 1) return matmul_nd(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul_nd(a, b.unsqueeze(1)).squeeze(-1);
  return matmul_nd(a, b);
}

Tensor linear(const Tensor& x_arg, const Tensor& weight_arg, const Tensor& bias_arg) {
  // Under autocast the bias joins the product's 16-bit type, as one fused op would.
  const Tensor x = autocast_to_lower(x_arg), weight = autocast_to_lower(weight_arg), bias = autocast_to_lower(bias_arg);
  EMBER_CHECK(weight.dim() == 2, "linear", "weight must be 2-D [out_features, in_features], got shape ",
              weight.shape());
  EMBER_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear", "input of shape ", x.shape(),
              " does not match weight of shape ", weight.shape(), " (in_features ", weight.size(1), ")");
  Tensor y = matmul(x, weight.t());
  if (bias.defined()) {
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear", "bias of shape ", bias.shape(),
                " does not match ", weight.size(0), " out_features");
    y = add(y, bias);
  }
  return y;
}

}  // namespace ember
