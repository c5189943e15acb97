// A recursive-descent parser for the subset of Python literals NumPy writes
// in .npy headers: dicts, tuples/lists, strings, integers (with Python 2's
// L suffix), True/False/None. Depth and sizes are bounded, since the header
// may come from a corrupt or hostile file.
#include "weights/npy_header.h"

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "engine/error.h"

namespace ember {
namespace {

struct PyValue {
  enum Kind { Str, Int, Bool, None, Tuple, Dict } kind = None;
  std::string str;
  int64_t integer = 0;
  bool boolean = false;
  std::vector<PyValue> items;     // Tuple items, or Dict values
  std::vector<std::string> keys;  // Dict keys (vector<pair<.., PyValue>> would need a complete type)
};

class LiteralParser {
 public:
  LiteralParser(std::string_view text, const std::string& where) : s_(text), where_(where) {}

  PyValue parse_document() {
    PyValue v = value(0);
    skip_space();
    if (pos_ != s_.size()) error("unexpected text after the header dict");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& what) {
    fail("npy", where_, ": corrupt .npy header (", what, " at offset ", pos_, ")");
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) error(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) == w) {
      pos_ += w.size();
      return true;
    }
    return false;
  }

  PyValue value(int depth) {
    if (depth > 8) error("nesting too deep");
    skip_space();
    if (pos_ >= s_.size()) error("unexpected end");
    char c = s_[pos_];
    PyValue v;
    if (c == '{') {
      v.kind = PyValue::Dict;
      ++pos_;
      while (!peek('}')) {
        PyValue key = value(depth + 1);
        if (key.kind != PyValue::Str) error("a dict key is not a string");
        expect(':');
        v.keys.push_back(key.str);
        v.items.push_back(value(depth + 1));
        if (v.items.size() > 64) error("too many items");
        if (!peek(',')) break;
        ++pos_;
      }
      expect('}');
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      v.kind = PyValue::Tuple;
      ++pos_;
      while (!peek(close)) {
        v.items.push_back(value(depth + 1));
        if (v.items.size() > 64) error("too many items");
        if (!peek(',')) break;
        ++pos_;
      }
      expect(close);
    } else if (c == '\'' || c == '"') {
      v.kind = PyValue::Str;
      ++pos_;
      while (true) {
        if (pos_ >= s_.size()) error("unterminated string");
        char ch = s_[pos_++];
        if (ch == c) break;
        if (ch == '\\') {
          if (pos_ >= s_.size()) error("unterminated string");
          ch = s_[pos_++];
        }
        v.str += ch;
      }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = PyValue::Int;
      bool negative = c == '-';
      if (negative) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') error("expected a digit");
      uint64_t n = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        n = n * 10 + static_cast<uint64_t>(s_[pos_++] - '0');
        if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) error("integer too large");
      }
      if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long
      v.integer = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
    } else if (word("True")) {
      v.kind = PyValue::Bool;
      v.boolean = true;
    } else if (word("False")) {
      v.kind = PyValue::Bool;
    } else if (word("None")) {
      v.kind = PyValue::None;
    } else {
      error(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  std::string_view s_;
  const std::string& where_;
  size_t pos_ = 0;
};

DType dtype_from_descr(const std::string& descr, const std::string& where) {
  if (descr.size() < 2) fail("npy", where, ": unsupported dtype '", descr, "'");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  if (order == '>') {
    const bool one_byte = code == "u1" || code == "b1" || code == "i1";
    if (!one_byte) {
      fail("npy", where, ": big-endian data ('", descr,
           "') is not supported; convert it with arr.astype(arr.dtype.newbyteorder('<'))");
    }
  } else if (order != '<' && order != '|' && order != '=') {
    fail("npy", where, ": unsupported dtype '", descr, "'");
  }
  if (code == "f4") return DType::Float32;
  if (code == "f8") return DType::Float64;
  if (code == "f2") return DType::Float16;
  if (code == "i8") return DType::Int64;
  if (code == "i4") return DType::Int32;
  if (code == "u1") return DType::UInt8;
  if (code == "b1") return DType::Bool;
  fail("npy", where, ": unsupported dtype '", descr,
       "' (supported: float32, float64, float16, int64, int32, uint8, bool)");
}

}  // namespace

NpyHeader parse_npy_header_dict(std::string_view text, const std::string& where) {
  PyValue d = LiteralParser(text, where).parse_document();
  if (d.kind != PyValue::Dict) fail("npy", where, ": corrupt .npy header (not a dict)");
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (size_t i = 0; i < d.keys.size(); ++i) {
    const std::string& key = d.keys[i];
    const PyValue& value = d.items[i];
    const PyValue** slot = key == "descr" ? &descr : key == "fortran_order" ? &fortran : key == "shape" ? &shape : nullptr;
    if (!slot) fail("npy", where, ": corrupt .npy header (unexpected key '", key, "')");
    if (*slot) fail("npy", where, ": corrupt .npy header (key '", key, "' appears twice)");
    *slot = &value;
  }
  if (!descr || !fortran || !shape) {
    fail("npy", where, ": corrupt .npy header (it needs the keys 'descr', 'fortran_order' and 'shape')");
  }
  if (descr->kind != PyValue::Str) {
    fail("npy", where, ": structured dtypes are not supported (descr is not a simple type string)");
  }
  if (fortran->kind != PyValue::Bool) fail("npy", where, ": corrupt .npy header ('fortran_order' is not True/False)");
  if (shape->kind != PyValue::Tuple) fail("npy", where, ": corrupt .npy header ('shape' is not a tuple)");

  NpyHeader h;
  h.dtype = dtype_from_descr(descr->str, where);
  uint64_t numel = 1;
  for (const PyValue& dim : shape->items) {
    if (dim.kind != PyValue::Int || dim.integer < 0) {
      fail("npy", where, ": corrupt .npy header (shape entries must be non-negative integers)");
    }
    h.shape.push_back(dim.integer);
    if (dim.integer != 0 && numel > (uint64_t{1} << 62) / static_cast<uint64_t>(dim.integer)) {
      fail("npy", where, ": corrupt .npy header (shape ", h.shape, "... is too large)");
    }
    numel *= static_cast<uint64_t>(dim.integer);
  }
  if (fortran->boolean && h.shape.size() > 1) {
    fail("npy", where, ": Fortran-order arrays are not supported; save it with np.ascontiguousarray(arr)");
  }
  return h;
}

std::string npy_descr(DType dtype, const std::string& where) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Float16: return "<f2";
    case DType::Int64: return "<i8";
    case DType::Int32: return "<i4";
    case DType::UInt8: return "|u1";
    case DType::Bool: return "|b1";
    case DType::BFloat16: break;
  }
  fail("npy", where, ": bfloat16 has no NumPy type; convert the tensor to float32 first");
}

std::string format_npy_header_dict(DType dtype, const Shape& shape, const std::string& where) {
  std::string s = "{'descr': '" + npy_descr(dtype, where) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  s += "), }";
  return s;
}

}  // namespace ember
