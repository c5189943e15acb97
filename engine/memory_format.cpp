#include "engine/memory_format.h"

#include <algorithm>
#include <numeric>

#include "engine/error.h"
#include "engine/tensor.h"

namespace ember {

const char* memory_format_name(MemoryFormat format) {
  switch (format) {
    case MemoryFormat::Contiguous: return "contiguous";
    case MemoryFormat::ChannelsLast: return "channels_last";
    case MemoryFormat::Preserve: return "preserve";
  }
  return "?";
}

Shape channels_last_strides(const Shape& shape) {
  EMBER_CHECK(shape.size() == 4, "channels_last", "needs a 4-D shape [N, C, H, W], got ", shape);
  const int64_t C = std::max<int64_t>(shape[1], 1), H = std::max<int64_t>(shape[2], 1),
                W = std::max<int64_t>(shape[3], 1);
  return {H * W * C, 1, W * C, C};
}

Shape strides_for(const Shape& shape, MemoryFormat format) {
  EMBER_CHECK(format != MemoryFormat::Preserve, "strides_for", "Preserve names no layout of its own");
  return format == MemoryFormat::ChannelsLast ? channels_last_strides(shape) : contiguous_strides(shape);
}

namespace {

// Strides match `want` on every dim of size > 1.
bool strides_match(const Shape& shape, const Shape& strides, const Shape& want) {
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1 && strides[d] != want[d]) return false;
  return true;
}

}  // namespace

bool Tensor::is_contiguous(MemoryFormat format) const {
  if (format == MemoryFormat::ChannelsLast) {
    return dim() == 4 && strides_match(shape(), strides(), channels_last_strides(shape()));
  }
  EMBER_CHECK(format == MemoryFormat::Contiguous, "is_contiguous", "asks for a layout, not Preserve");
  return is_contiguous();
}

MemoryFormat suggest_memory_format(const Tensor& t) {
  if (t.defined() && t.dim() == 4 && t.is_contiguous(MemoryFormat::ChannelsLast) && !t.is_contiguous())
    return MemoryFormat::ChannelsLast;
  return MemoryFormat::Contiguous;
}

bool is_non_overlapping_and_dense(const Tensor& t) {
  if (t.is_contiguous()) return true;
  const Shape& shape = t.shape();
  const Shape& strides = t.strides();
  std::vector<size_t> dims;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return true;
    if (shape[d] != 1) dims.push_back(d);
  }
  std::stable_sort(dims.begin(), dims.end(), [&](size_t a, size_t b) { return strides[a] < strides[b]; });
  int64_t expected = 1;
  for (size_t d : dims) {
    if (strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

bool same_dense_layout(const Tensor& first, std::initializer_list<const Tensor*> others) {
  if (!is_non_overlapping_and_dense(first)) return false;
  for (const Tensor* t : others) {
    if (t->shape() != first.shape() || !strides_match(first.shape(), t->strides(), first.strides())) return false;
  }
  return true;
}

}  // namespace ember
