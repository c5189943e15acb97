// Reduction front-end. A reduction over several dims is split into runs of
// adjacent dims; each run is one backend call on the contiguous tensor seen
// as [outer, reduce, inner], so no transposing copy is needed.
#include "engine/ops/reduce.h"

#include <algorithm>

#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace ember {
namespace {

using Grads = std::vector<Tensor>;

// Sorted, unique, wrapped dims; empty input means every dim.
Dims normalize_dims(const Dims& dims, int64_t ndim, const char* op) {
  Dims out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  EMBER_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, "dim appears more than once in ", dims);
  if (ndim == 0) out.clear();  // a 0-d tensor has nothing to reduce
  return out;
}

// The shape with `dims` removed (or set to 1 with keepdim).
Shape reduced_shape(const Shape& shape, const Dims& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    bool reduced = std::find(dims.begin(), dims.end(), d) != dims.end();
    if (!reduced) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Sum/Max/Min over sorted `dims` with no autograd; result has keepdim shape.
Tensor reduce_kernel(const Tensor& x, const Dims& dims, ReduceOp op) {
  if (dims.empty()) return x.detach().clone();  // never alias the input
  Tensor cur = x.detach().contiguous();
  Shape shape = cur.shape();
  // Runs of adjacent dims, reduced innermost first so earlier indices stay valid.
  size_t i = dims.size();
  while (i > 0) {
    size_t j = i - 1;
    while (j > 0 && dims[j - 1] == dims[j] - 1) --j;
    int64_t first = dims[j], last = dims[i - 1];
    int64_t outer = 1, R = 1, inner = 1;
    for (int64_t d = 0; d < first; ++d) outer *= shape[d];
    for (int64_t d = first; d <= last; ++d) R *= shape[d];
    for (int64_t d = last + 1; d < static_cast<int64_t>(shape.size()); ++d) inner *= shape[d];
    Shape next = shape;
    for (int64_t d = first; d <= last; ++d) next[d] = 1;
    Tensor out = empty(next, TensorOptions(cur.dtype(), cur.device()));
    if (out.numel() > 0) backend(cur.device()).reduce(out, cur, op, outer, R, inner);
    cur = out;
    shape = next;
    i = j;
  }
  return cur;
}

Tensor finish_shape(const Tensor& reduced, const Shape& in_shape, const Dims& dims, bool keepdim) {
  return reduced.reshape(reduced_shape(in_shape, dims, keepdim));
}

// Broadcasts a reduced gradient back over the reduced dims.
Tensor expand_back(const Tensor& g, const Shape& in_shape, const Dims& dims, bool keepdim) {
  Tensor gk = keepdim ? g : g.reshape(reduced_shape(in_shape, dims, true));
  return gk.expand(in_shape);
}

int64_t count_of(const Shape& shape, const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[d];
  return n;
}

void check_floating(const Tensor& x, const char* op) {
  EMBER_CHECK(is_floating(x.dtype()), op, "needs a floating-point tensor, got ", dtype_name(x.dtype()),
              " (convert it with .to(DType::Float32))");
}

// amax/amin: the gradient is split evenly among the entries equal to the result.
Tensor extreme(const Tensor& x, const Dims& dims_in, bool keepdim, bool is_max, const char* op) {
  Dims dims = normalize_dims(dims_in, x.dim(), op);
  for (int64_t d : dims) {
    EMBER_CHECK(x.shape()[d] > 0, op, "cannot reduce over dim ", d, " of size 0 (shape ", x.shape(), ")");
  }
  EMBER_CHECK(x.numel() > 0, op, "cannot take the ", is_max ? "max" : "min", " of an empty tensor");
  Tensor r = reduce_kernel(x, dims, is_max ? ReduceOp::Max : ReduceOp::Min);
  Tensor out = finish_shape(r, x.shape(), dims, keepdim);
  if (any_requires_grad({x})) {
    record(is_max ? "AmaxBackward" : "AminBackward", out, {x},
           [sx = Saved(x), sr = Saved(r), dims, keepdim](const Tensor& g, const NeedsGrad&) -> Grads {
             const Tensor& in = sx.get();
             Tensor mask = eq(in, sr.get());
             Tensor count = sum(mask, dims, true).to(in.dtype());
             Tensor gk = keepdim ? g : g.reshape(reduced_shape(in.shape(), dims, true));
             return {where(mask, div(gk, count), 0.0)};
           });
  }
  return out;
}

std::pair<Tensor, Tensor> extreme_with_index(const Tensor& x, int64_t dim_in, bool keepdim, bool is_max,
                                             const char* op) {
  int64_t dim = wrap_dim(dim_in, x.dim(), op);
  Tensor in = x.detach().contiguous();
  Shape kshape = in.shape();
  int64_t R = x.dim() == 0 ? 1 : kshape[dim];
  EMBER_CHECK(R > 0, op, "cannot reduce over dim ", dim, " of size 0 (shape ", x.shape(), ")");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= kshape[d];
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= kshape[d];
  if (x.dim() > 0) kshape[dim] = 1;
  Tensor values = empty(kshape, TensorOptions(x.dtype(), x.device()));
  Tensor indices = empty(kshape, TensorOptions(DType::Int64, x.device()));
  if (values.numel() > 0) {
    backend(x.device()).reduce_with_index(values, indices, in, is_max ? ReduceOp::Max : ReduceOp::Min, outer, R,
                                          inner);
  }
  Dims dims = x.dim() == 0 ? Dims{} : Dims{dim};
  Tensor v = finish_shape(values, x.shape(), dims, keepdim);
  Tensor idx = finish_shape(indices, x.shape(), dims, keepdim);
  if (any_requires_grad({x})) {
    record(is_max ? "MaxBackward" : "MinBackward", v, {x},
           [in_shape = x.shape(), idx_k = indices, dim, keepdim](const Tensor& g, const NeedsGrad&) -> Grads {
             if (in_shape.empty()) return {g.reshape({})};
             // One-hot of the chosen index along `dim`, built by comparison with a range.
             Shape range_shape(in_shape.size(), 1);
             range_shape[dim] = in_shape[dim];
             Tensor range = arange(0, in_shape[dim], 1, TensorOptions(DType::Int64, g.device())).reshape(range_shape);
             Tensor hit = eq(range, idx_k);
             Tensor gk = keepdim ? g : g.unsqueeze(dim);
             return {where(hit, gk, 0.0)};
           });
  }
  return {v, idx};
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims_in, bool keepdim) {
  Dims dims = normalize_dims(dims_in, x.dim(), "sum");
  Tensor in = is_floating(x.dtype()) || x.dtype() == DType::Int64 ? x : x.detach().to(DType::Int64);
  Tensor out = finish_shape(reduce_kernel(in, dims, ReduceOp::Sum), x.shape(), dims, keepdim);
  if (any_requires_grad({x})) {
    record("SumBackward", out, {x}, [in_shape = x.shape(), dims, keepdim](const Tensor& g, const NeedsGrad&) -> Grads {
      return {expand_back(g, in_shape, dims, keepdim)};
    });
  }
  return out;
}

Tensor mean(const Tensor& x, const Dims& dims_in, bool keepdim) {
  check_floating(x, "mean");
  Dims dims = normalize_dims(dims_in, x.dim(), "mean");
  int64_t n = count_of(x.shape(), dims);
  // A float16 sum overflows past 65504 (the mean of 100,000 ones would be
  // inf): 16-bit inputs are summed and divided in float32, then rounded
  // once, as PyTorch accumulates them.
  const bool narrow = is_16bit_float(x.dtype());
  Tensor s = reduce_kernel(narrow ? x.detach().to(DType::Float32) : x, dims, ReduceOp::Sum);
  Tensor out = finish_shape(s, x.shape(), dims, keepdim);
  {
    // Divide in place on the fresh result (no autograd involved yet).
    Tensor flat = out.detach();
    backend(flat.device()).binary(flat, flat, wrap_scalar(static_cast<double>(n), flat).expand(flat.shape()),
                                  BinaryOp::Div, {});
    if (narrow) out = flat.to(x.dtype());
  }
  if (any_requires_grad({x})) {
    record("MeanBackward", out, {x},
           [in_shape = x.shape(), dims, keepdim, n](const Tensor& g, const NeedsGrad&) -> Grads {
             return {expand_back(div(g, static_cast<double>(n)), in_shape, dims, keepdim)};
           });
  }
  return out;
}

Tensor var(const Tensor& x, const Dims& dims_in, int64_t correction, bool keepdim) {
  check_floating(x, "var");
  Dims dims = normalize_dims(dims_in, x.dim(), "var");
  int64_t n = count_of(x.shape(), dims);
  Tensor centered = sub(x, mean(x, dims, true));
  Tensor ss = sum(mul(centered, centered), dims, keepdim);
  return div(ss, static_cast<double>(std::max<int64_t>(n - correction, 0)));
}

Tensor std_dev(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor amax(const Tensor& x, const Dims& dims, bool keepdim) { return extreme(x, dims, keepdim, true, "amax"); }
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim) { return extreme(x, dims, keepdim, false, "amin"); }
Tensor max(const Tensor& x) { return extreme(x, {}, false, true, "max"); }
Tensor min(const Tensor& x) { return extreme(x, {}, false, false, "min"); }

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_with_index(x, dim, keepdim, true, "max");
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_with_index(x, dim, keepdim, false, "min");
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_with_index(x.detach(), dim, keepdim, true, "argmax").second;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_with_index(x.detach(), dim, keepdim, false, "argmin").second;
}
Tensor argmax(const Tensor& x) { return argmax(x.detach().reshape({-1}), 0, false); }
Tensor argmin(const Tensor& x) { return argmin(x.detach().reshape({-1}), 0, false); }

Tensor norm(const Tensor& x, const Dims& dims, bool keepdim) {
  check_floating(x, "norm");
  return sqrt(sum(mul(x, x), dims, keepdim));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  EMBER_CHECK(lead >= 0, "sum_to", "cannot sum shape ", x.shape(), " to the larger shape ", shape);
  Dims dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] == 1 && x.shape()[d] != 1) {
      dims.push_back(d);
    } else {
      EMBER_CHECK(shape[d - lead] == x.shape()[d], "sum_to", "shape ", x.shape(), " does not broadcast from ", shape);
    }
  }
  Tensor r = dims.empty() ? x : sum(x, dims, true);
  return r.reshape(shape);
}

}  // namespace ember
