// Readable printing in PyTorch's style:
//   tensor([[ 0.5000, -1.2500],
//           [ 3.0000,  4.0000]], requires_grad=True)
// Large tensors show their first and last three entries along each dim.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/autograd/node.h"
#include "engine/tensor.h"

namespace ember {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Format {
  bool integral = false;    // an integer dtype or bool
  bool is_bool = false;
  bool whole = false;       // floats that are all whole numbers print as "3."
  bool scientific = false;
  int width = 1;
};

std::string format_value(double v, const Format& f) {
  char buf[64];
  if (f.is_bool) return v != 0 ? "True" : "False";
  if (f.integral) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else if (std::isnan(v)) {
    return "nan";
  } else if (std::isinf(v)) {
    return v > 0 ? "inf" : "-inf";
  } else if (f.scientific) {
    std::snprintf(buf, sizeof buf, "%.4e", v);
  } else if (f.whole) {
    std::snprintf(buf, sizeof buf, "%.0f.", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4f", v);
  }
  return buf;
}

Format choose_format(const std::vector<double>& shown, DType dtype) {
  Format f;
  f.is_bool = dtype == DType::Bool;
  f.integral = is_integral(dtype);
  if (!f.integral) {
    double max_abs = 0, min_abs = INFINITY;
    bool whole = true;
    for (double v : shown) {
      if (!std::isfinite(v)) continue;
      max_abs = std::max(max_abs, std::abs(v));
      if (v != 0) min_abs = std::min(min_abs, std::abs(v));
      if (v != std::floor(v)) whole = false;
    }
    f.whole = whole && max_abs < 1e8;
    if (!f.whole && min_abs != INFINITY) {
      f.scientific = max_abs / min_abs > 1000.0 || max_abs > 1e8 || min_abs < 1e-4;
    }
  }
  for (double v : shown) f.width = std::max<int>(f.width, static_cast<int>(format_value(v, f).size()));
  return f;
}

// Indices kept along a dim of `size` (all, or the edges when summarising).
std::vector<int64_t> kept_indices(int64_t size, bool summarize) {
  std::vector<int64_t> idx;
  if (!summarize || size <= 2 * kEdgeItems) {
    for (int64_t i = 0; i < size; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(-1);  // the "..." marker
    for (int64_t i = size - kEdgeItems; i < size; ++i) idx.push_back(i);
  }
  return idx;
}

void collect(const std::vector<double>& values, const Shape& shape, const Shape& strides, int64_t dim,
             int64_t base, bool summarize, std::vector<double>& out) {
  if (dim == static_cast<int64_t>(shape.size())) {
    out.push_back(values[base]);
    return;
  }
  for (int64_t i : kept_indices(shape[dim], summarize)) {
    if (i >= 0) collect(values, shape, strides, dim + 1, base + i * strides[dim], summarize, out);
  }
}

void render(std::ostringstream& os, const std::vector<double>& values, const Shape& shape, const Shape& strides,
            int64_t dim, int64_t base, bool summarize, const Format& f, int indent) {
  int64_t n = static_cast<int64_t>(shape.size());
  if (dim == n) {
    std::string s = format_value(values[base], f);
    os << std::string(f.width - s.size(), ' ') << s;
    return;
  }
  os << '[';
  std::vector<int64_t> idx = kept_indices(shape[dim], summarize);
  for (size_t k = 0; k < idx.size(); ++k) {
    if (k > 0) {
      os << ',';
      if (dim == n - 1) {
        os << ' ';
      } else {
        os << std::string(static_cast<size_t>(n - dim - 1), '\n') << std::string(indent + dim + 1, ' ');
      }
    }
    if (idx[k] < 0) {
      os << "...";
      continue;
    }
    render(os, values, shape, strides, dim + 1, base + idx[k] * strides[dim], summarize, f, indent);
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> values = to_vector<double>();
  Shape cshape = shape();
  Shape cstrides = contiguous_strides(cshape);
  bool summarize = numel() > kSummarizeAbove;
  std::vector<double> shown;
  collect(values, cshape, cstrides, 0, 0, summarize, shown);
  Format f = choose_format(shown, dtype());
  std::ostringstream os;
  os << "tensor(";
  if (numel() == 0) {
    os << "[]";
  } else if (dim() == 0) {
    os << format_value(values[0], f);
  } else {
    render(os, values, cshape, cstrides, 0, 0, summarize, f, 7);
  }
  std::vector<std::string> extras;
  if (numel() == 0 && dim() != 1) extras.push_back("size=" + shape_str(shape()));
  if (device().is_cuda()) extras.push_back("device='" + device().str() + "'");
  if (dtype() != DType::Float32 && dtype() != DType::Int64 && dtype() != DType::Bool) {
    extras.push_back(std::string("dtype=") + dtype_name(dtype()));
  }
  if (std::shared_ptr<Node> fn = grad_fn()) {
    extras.push_back("grad_fn=<" + fn->name() + ">");
  } else if (requires_grad()) {
    extras.push_back("requires_grad=True");
  }
  for (const std::string& e : extras) os << ", " << e;
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace ember
