#include "engine/ops/shape_ops.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/error.h"

namespace ember {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim_in) {
  const char* op = "cat";
  EMBER_CHECK(!tensors.empty(), op, "expected a non-empty list of tensors");
  // Like PyTorch, 1-D empty tensors are skipped (legacy behaviour many scripts rely on).
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) {
    EMBER_CHECK(t.defined(), op, "got an undefined tensor");
    if (!(t.dim() == 1 && t.numel() == 0)) parts.push_back(t);
  }
  if (parts.empty()) return tensors[0].clone();
  const Tensor& first = parts[0];
  EMBER_CHECK(first.dim() > 0, op, "zero-dimensional tensors cannot be concatenated; use stack");
  int64_t dim = wrap_dim(dim_in, first.dim(), op);
  DType dtype = first.dtype();
  int64_t total = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& t = parts[i];
    EMBER_CHECK(t.dim() == first.dim(), op, "tensor ", i, " has ", t.dim(), " dims (shape ", t.shape(),
                ") but tensor 0 has ", first.dim(), " (shape ", first.shape(), ")");
    EMBER_CHECK(t.device() == first.device(), op, "tensor ", i, " is on ", t.device().str(), " but tensor 0 is on ",
                first.device().str());
    for (int64_t d = 0; d < t.dim(); ++d) {
      EMBER_CHECK(d == dim || t.size(d) == first.size(d), op, "sizes must match except in dim ", dim, ": tensor ", i,
                  " has shape ", t.shape(), ", tensor 0 has shape ", first.shape());
    }
    dtype = promote_types(dtype, t.dtype());
    total += t.size(dim);
  }
  Shape shape = first.shape();
  shape[dim] = total;
  // Channels-last parts give a channels-last result (DenseNet's concatenations stay NHWC).
  MemoryFormat format = MemoryFormat::Contiguous;
  for (const Tensor& t : parts)
    if (is_channels_last(t)) format = MemoryFormat::ChannelsLast;
  Tensor out = empty(shape, TensorOptions(dtype, first.device()), format);
  {
    NoGradGuard no_grad;
    int64_t offset = 0;
    for (const Tensor& t : parts) {
      out.narrow(dim, offset, t.size(dim)).copy_(t);
      offset += t.size(dim);
    }
  }
  if (any_requires_grad(parts)) {
    std::vector<int64_t> sizes;
    std::vector<DType> dtypes;
    for (const Tensor& t : parts) {
      sizes.push_back(t.size(dim));
      dtypes.push_back(t.dtype());
    }
    record("CatBackward", out, parts, [sizes, dtypes, dim](const Tensor& g, const NeedsGrad& needs) {
      std::vector<Tensor> grads(sizes.size());
      int64_t offset = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (needs[i]) grads[i] = g.narrow(dim, offset, sizes[i]).to(dtypes[i]);
        offset += sizes[i];
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "stack", "expected a non-empty list of tensors");
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    EMBER_CHECK(tensors[i].shape() == tensors[0].shape(), "stack", "all tensors must have one shape: tensor ", i,
                " has ", tensors[i].shape(), ", tensor 0 has ", tensors[0].shape());
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    EMBER_CHECK(s >= 0, "split", "negative split size ", s);
    total += s;
  }
  EMBER_CHECK(total == x.size(d), "split", "sizes ", sizes, " add up to ", total, " but dim ", d, " has size ",
              x.size(d), " (shape ", x.shape(), ")");
  std::vector<Tensor> out;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, offset, s));
    offset += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "split");
  EMBER_CHECK(split_size > 0 || x.size(d) == 0, "split", "split_size must be positive, got ", split_size);
  std::vector<int64_t> sizes;
  for (int64_t offset = 0; offset < x.size(d); offset += split_size) {
    sizes.push_back(std::min(split_size, x.size(d) - offset));
  }
  if (sizes.empty()) sizes.push_back(0);
  return split(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  EMBER_CHECK(chunks > 0, "chunk", "number of chunks must be positive, got ", chunks);
  int64_t d = wrap_dim(dim, x.dim(), "chunk");
  int64_t size = (x.size(d) + chunks - 1) / chunks;
  return split(x, std::max<int64_t>(size, 1), d);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, Scalar value) {
  const char* op = "pad";
  EMBER_CHECK(pads.size() % 2 == 0, op, "padding needs (before, after) pairs, got ", pads.size(), " values");
  EMBER_CHECK(static_cast<int64_t>(pads.size()) / 2 <= x.dim(), op, "padding ", pads, " covers more dims than the ",
              x.dim(), " of shape ", x.shape());
  Shape shape = x.shape();
  Tensor src = x;  // the part of x that survives negative (cropping) pads
  std::vector<std::pair<int64_t, int64_t>> place(x.dim(), {0, 0});  // (dim, offset in out)
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    int64_t d = x.dim() - 1 - static_cast<int64_t>(i);
    int64_t before = pads[2 * i], after = pads[2 * i + 1];
    int64_t new_size = shape[d] + before + after;
    EMBER_CHECK(new_size >= 0, op, "padding ", pads, " makes dim ", d, " of shape ", x.shape(), " negative");
    int64_t crop_front = std::max<int64_t>(-before, 0), crop_back = std::max<int64_t>(-after, 0);
    src = src.narrow(d, crop_front, std::max<int64_t>(shape[d] - crop_front - crop_back, 0));
    place[d] = {d, std::max<int64_t>(before, 0)};
    shape[d] = new_size;
  }
  Tensor out = full(shape, value, TensorOptions(x.dtype(), x.device()));
  {
    NoGradGuard no_grad;
    Tensor dst = out;
    for (int64_t d = 0; d < x.dim(); ++d) dst = dst.narrow(d, place[d].second, src.size(d));
    if (src.numel() > 0) dst.copy_(src);
  }
  if (any_requires_grad({src})) {
    record("PadBackward", out, {src}, [place, src_shape = src.shape()](const Tensor& g, const NeedsGrad&) {
      Tensor r = g;
      for (size_t d = 0; d < src_shape.size(); ++d) r = r.narrow(static_cast<int64_t>(d), place[d].second, src_shape[d]);
      return std::vector<Tensor>{r};
    });
  }
  return out;
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) { return x.flatten(start_dim, end_dim); }

}  // namespace ember
