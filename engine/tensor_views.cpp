// Views: new geometry over the same storage, each recording the backward that
// maps the view's gradient back to the input's shape.
#include <algorithm>
#include <numeric>
#include <optional>

#include "engine/autograd/node.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/tensor.h"

namespace ember {

namespace {

// Replaces a single -1 in `shape` by the size that keeps numel.
Shape infer_size(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1;
  int infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      EMBER_CHECK(infer_at < 0, op, "only one dimension can be -1, got shape ", shape);
      infer_at = static_cast<int>(i);
    } else {
      EMBER_CHECK(out[i] >= 0, op, "invalid size ", out[i], " in shape ", shape);
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    EMBER_CHECK(known != 0 && numel % known == 0, op, "shape ", shape, " is invalid for input of size ", numel);
    out[infer_at] = numel / known;
  }
  EMBER_CHECK(shape_numel(out) == numel, op, "shape ", shape, " is invalid for input of size ", numel);
  return out;
}

// Strides that let `new_shape` view memory laid out as (old_shape,
// old_strides), or nothing if the view would need a copy (PyTorch's rule:
// each run of dims that are contiguous with each other may be re-split).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape) {
  Shape out(new_shape.size());
  if (old_shape.empty()) return contiguous_strides(new_shape);
  if (shape_numel(old_shape) == 0) return contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Gradient of a view op whose backward is "reshape the grad back".
void record_reshape_back(const char* name, const Tensor& out, const Tensor& in) {
  Shape in_shape = in.shape();
  record(name, out, {in}, [in_shape](const Tensor& g, const NeedsGrad&) -> std::vector<Tensor> {
    return {g.reshape(in_shape)};
  });
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape target = infer_size(shape, numel(), "view");
  std::optional<Shape> strides_for_view = view_strides(this->shape(), strides(), target);
  EMBER_CHECK(strides_for_view.has_value(), "view",
              "view size is not compatible with the input's size and stride (shape ", this->shape(), ", strides ",
              strides(), ", requested ", target, "); use reshape() instead");
  Tensor out = make_view(*this, offset(), target, *strides_for_view);
  record_reshape_back("ViewBackward", out, *this);
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape target = infer_size(shape, numel(), "reshape");
  if (view_strides(this->shape(), strides(), target)) return view(target);
  return contiguous().view(target);
}

Tensor Tensor::permute(const Shape& dims) const {
  int64_t n = dim();
  EMBER_CHECK(static_cast<int64_t>(dims.size()) == n, "permute", "got ", dims.size(), " dims ", dims,
              " for a tensor of ", n, " dims");
  Shape new_shape(n), new_strides(n), inverse(n);
  std::vector<bool> used(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim(dims[i], n, "permute");
    EMBER_CHECK(!used[d], "permute", "dim ", d, " appears twice in ", dims);
    used[d] = true;
    new_shape[i] = shape()[d];
    new_strides[i] = strides()[d];
    inverse[d] = i;
  }
  Tensor out = make_view(*this, offset(), new_shape, new_strides);
  record("PermuteBackward", out, {*this}, [inverse](const Tensor& g, const NeedsGrad&) -> std::vector<Tensor> {
    return {g.permute(inverse)};
  });
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int64_t n = dim();
  if (n == 0) return *this;
  d0 = wrap_dim(d0, n, "transpose");
  d1 = wrap_dim(d1, n, "transpose");
  Shape perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[d0], perm[d1]);
  return permute(perm);
}

Tensor Tensor::t() const {
  EMBER_CHECK(dim() <= 2, "t", "expects a tensor of at most 2 dims, got shape ", shape());
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  EMBER_CHECK(step > 0, "slice", "step must be positive, got ", step);
  int64_t size = shape()[d];
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Shape new_shape = shape(), new_strides = strides();
  new_shape[d] = (end - start + step - 1) / step;
  new_strides[d] = strides()[d] * step;
  Tensor out = make_view(*this, offset() + start * strides()[d], new_shape, new_strides);
  Shape in_shape = shape();
  record("SliceBackward", out, {*this},
         [in_shape, d, start, end, step](const Tensor& g, const NeedsGrad&) -> std::vector<Tensor> {
           Tensor grad_in = zeros(in_shape, TensorOptions(g.dtype(), g.device()));
           grad_in.slice(d, start, end, step).copy_(g);
           return {grad_in};
         });
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  int64_t size = shape()[d];
  if (start < 0) start += size;
  EMBER_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow", "start ", start, " and length ",
              length, " exceed dim ", d, " of size ", size, " (shape ", shape(), ")");
  return slice(d, start, start + length, 1);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  int64_t size = shape()[d];
  EMBER_CHECK(index >= -size && index < size, "select", "index ", index, " is out of range for dim ", d,
              " of size ", size, " (shape ", shape(), ")");
  if (index < 0) index += size;
  Shape new_shape = shape(), new_strides = strides();
  new_shape.erase(new_shape.begin() + d);
  new_strides.erase(new_strides.begin() + d);
  Tensor out = make_view(*this, offset() + index * strides()[d], new_shape, new_strides);
  Shape in_shape = shape();
  record("SelectBackward", out, {*this}, [in_shape, d, index](const Tensor& g, const NeedsGrad&) {
    Tensor grad_in = zeros(in_shape, TensorOptions(g.dtype(), g.device()));
    grad_in.select(d, index).copy_(g);
    return std::vector<Tensor>{grad_in};
  });
  return out;
}

Tensor Tensor::squeeze() const {
  Shape new_shape, new_strides;
  for (int64_t i = 0; i < dim(); ++i) {
    if (shape()[i] != 1) {
      new_shape.push_back(shape()[i]);
      new_strides.push_back(strides()[i]);
    }
  }
  Tensor out = make_view(*this, offset(), new_shape, new_strides);
  record_reshape_back("SqueezeBackward", out, *this);
  return out;
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape new_shape = shape(), new_strides = strides();
  new_shape.erase(new_shape.begin() + d);
  new_strides.erase(new_strides.begin() + d);
  Tensor out = make_view(*this, offset(), new_shape, new_strides);
  record_reshape_back("SqueezeBackward", out, *this);
  return out;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape new_shape = shape(), new_strides = strides();
  int64_t stride = d < dim() ? shape()[d] * strides()[d] : 1;
  new_shape.insert(new_shape.begin() + d, 1);
  new_strides.insert(new_strides.begin() + d, stride);
  Tensor out = make_view(*this, offset(), new_shape, new_strides);
  record_reshape_back("UnsqueezeBackward", out, *this);
  return out;
}

Tensor Tensor::expand(const Shape& target) const {
  int64_t n = static_cast<int64_t>(target.size());
  EMBER_CHECK(n >= dim(), "expand", "the target shape ", target, " has fewer dims than the tensor's shape ",
              shape());
  Shape new_shape(n), new_strides(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t j = i - (n - dim());
    int64_t size = j >= 0 ? shape()[j] : 1;
    int64_t stride = j >= 0 ? strides()[j] : 0;
    int64_t want = target[i] == -1 && j >= 0 ? size : target[i];
    EMBER_CHECK(want >= 0, "expand", "invalid size ", target[i], " in target shape ", target);
    if (size != want) {
      EMBER_CHECK(size == 1, "expand", "the tensor's shape ", shape(), " cannot be expanded to ", target,
                  " (dim ", i, ": ", size, " vs ", want, ")");
      stride = 0;
    }
    new_shape[i] = want;
    new_strides[i] = stride;
  }
  if (new_shape == shape()) return *this;
  Tensor out = make_view(*this, offset(), new_shape, new_strides);
  Shape in_shape = shape();
  record("ExpandBackward", out, {*this}, [in_shape](const Tensor& g, const NeedsGrad&) -> std::vector<Tensor> {
    return {sum_to(g, in_shape)};
  });
  return out;
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  EMBER_CHECK(start_dim <= end_dim, "flatten", "start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape new_shape(shape().begin(), shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) merged *= shape()[i];
  new_shape.push_back(merged);
  new_shape.insert(new_shape.end(), shape().begin() + end_dim + 1, shape().end());
  return reshape(new_shape);
}

}  // namespace ember
