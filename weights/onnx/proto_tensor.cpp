// TensorProto stores values either as little-endian bytes in raw_data or in
// a typed repeated field chosen by the element type: float_data (FLOAT),
// double_data (DOUBLE), int64_data (INT64), uint64_data (UINT32, UINT64),
// and int32_data for every narrower type, FLOAT16 and BFLOAT16 as their bit
// patterns included.
#include "weights/onnx/proto_tensor.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "engine/error.h"

namespace ember::onnx_import {
namespace {

using TP = onnx::TensorProto;

// Bytes per element of the type as stored in raw_data.
size_t raw_size(int t) {
  switch (t) {
    case TP::FLOAT: case TP::INT32: case TP::UINT32: return 4;
    case TP::DOUBLE: case TP::INT64: case TP::UINT64: return 8;
    case TP::FLOAT16: case TP::BFLOAT16: case TP::INT16: case TP::UINT16: return 2;
    case TP::UINT8: case TP::INT8: case TP::BOOL: return 1;
    default: return 0;
  }
}

// Reads element i of raw bytes as the ONNX type, converted to Out.
template <class Out>
Out raw_element(const char* p, int t, int64_t i) {
  auto load = [&]<class T>() {
    T v;
    std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    return v;
  };
  switch (t) {
    case TP::INT8: return static_cast<Out>(load.template operator()<int8_t>());
    case TP::INT16: return static_cast<Out>(load.template operator()<int16_t>());
    case TP::UINT16: return static_cast<Out>(load.template operator()<uint16_t>());
    case TP::UINT32: return static_cast<Out>(load.template operator()<uint32_t>());
    default: return static_cast<Out>(load.template operator()<uint64_t>());
  }
}

}  // namespace

std::string elem_type_name(int t) {
  if (t >= 0 && onnx::TensorProto_DataType_IsValid(t)) {
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
  }
  return "type " + std::to_string(t);
}

DType dtype_for(int t, const std::string& where) {
  switch (t) {
    case TP::FLOAT: return DType::Float32;
    case TP::DOUBLE: return DType::Float64;
    case TP::FLOAT16: return DType::Float16;
    case TP::BFLOAT16: return DType::BFloat16;
    case TP::INT64: case TP::UINT32: case TP::UINT64: return DType::Int64;
    case TP::INT32: case TP::INT16: case TP::INT8: case TP::UINT16: return DType::Int32;
    case TP::UINT8: return DType::UInt8;
    case TP::BOOL: return DType::Bool;
    default: fail("onnx", where, ": element type ", elem_type_name(t), " is not supported");
  }
}

Tensor tensor_from_proto(const TP& p, const std::string& where) {
  if (p.data_location() == TP::EXTERNAL || p.external_data_size() > 0) {
    std::string file;
    for (const auto& kv : p.external_data()) {
      if (kv.key() == "location") file = kv.value();
    }
    fail("onnx", where, ": the tensor's data is stored in an external file (", file.empty() ? "?" : file,
         "), which is not supported; re-export the model with the weights inside the .onnx file");
  }
  if (p.has_segment()) fail("onnx", where, ": segmented tensors are not supported");
  const int t = p.data_type();
  const DType dtype = dtype_for(t, where);
  Shape shape;
  uint64_t numel = 1;
  for (int64_t d : p.dims()) {
    if (d < 0) fail("onnx", where, ": negative dimension ", d);
    shape.push_back(d);
    if (d != 0 && numel > (uint64_t{1} << 56) / static_cast<uint64_t>(d)) fail("onnx", where, ": dims are too large");
    numel *= static_cast<uint64_t>(d);
  }
  const int64_t n = static_cast<int64_t>(numel);
  auto count_error = [&](const char* field, int64_t have) {
    fail("onnx", where, ": corrupt tensor (dims ", shape, " need ", n, " values, ", field, " has ", have, ")");
  };

  // Check the stored count before allocating: the dims may be corrupt.
  int64_t stored = 0;
  const char* field = "raw_data (bytes / element size)";
  if (p.has_raw_data()) {
    stored = static_cast<int64_t>(p.raw_data().size() / raw_size(t));
    if (p.raw_data().size() % raw_size(t) != 0) stored = -1;
  } else if (t == TP::FLOAT) {
    stored = p.float_data_size(), field = "float_data";
  } else if (t == TP::DOUBLE) {
    stored = p.double_data_size(), field = "double_data";
  } else if (t == TP::INT64) {
    stored = p.int64_data_size(), field = "int64_data";
  } else if (t == TP::UINT32 || t == TP::UINT64) {
    stored = p.uint64_data_size(), field = "uint64_data";
  } else {
    stored = p.int32_data_size(), field = "int32_data";
  }
  if (stored != n) count_error(field, stored);

  Tensor out = empty(shape, dtype);
  if (p.has_raw_data()) {
    const std::string& raw = p.raw_data();
    const size_t es = raw_size(t);
    if (es == dtype_size(dtype) && t != TP::UINT64) {
      if (!raw.empty()) std::memcpy(out.data_ptr(), raw.data(), raw.size());
      if (dtype == DType::Bool) {
        auto* b = static_cast<uint8_t*>(out.data_ptr());
        for (int64_t i = 0; i < n; ++i) b[i] = b[i] != 0;
      }
    } else if (dtype == DType::Int32) {
      int32_t* o = out.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) o[i] = raw_element<int32_t>(raw.data(), t, i);
    } else {  // UINT32 / UINT64 -> int64
      int64_t* o = out.data<int64_t>();
      for (int64_t i = 0; i < n; ++i) {
        uint64_t v = raw_element<uint64_t>(raw.data(), t, i);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          fail("onnx", where, ": uint64 value ", v, " does not fit Ember's int64");
        }
        o[i] = static_cast<int64_t>(v);
      }
    }
    return out;
  }
  switch (t) {
    case TP::FLOAT: {
      if (n) std::memcpy(out.data_ptr(), p.float_data().data(), numel * 4);
      break;
    }
    case TP::DOUBLE: {
      if (n) std::memcpy(out.data_ptr(), p.double_data().data(), numel * 8);
      break;
    }
    case TP::INT64: {
      if (n) std::memcpy(out.data_ptr(), p.int64_data().data(), numel * 8);
      break;
    }
    case TP::UINT32: case TP::UINT64: {
      int64_t* o = out.data<int64_t>();
      for (int64_t i = 0; i < n; ++i) {
        uint64_t v = p.uint64_data(static_cast<int>(i));
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          fail("onnx", where, ": uint64 value ", v, " does not fit Ember's int64");
        }
        o[i] = static_cast<int64_t>(v);
      }
      break;
    }
    default: {  // every narrower type travels in int32_data
      for (int64_t i = 0; i < n; ++i) {
        const int32_t v = p.int32_data(static_cast<int>(i));
        switch (dtype) {
          case DType::Float16: case DType::BFloat16: {
            const uint16_t bits = static_cast<uint16_t>(v);
            std::memcpy(static_cast<char*>(out.data_ptr()) + 2 * i, &bits, 2);
            break;
          }
          case DType::UInt8: out.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
          case DType::Bool: out.data<bool>()[i] = v != 0; break;
          default: out.data<int32_t>()[i] = v; break;
        }
      }
    }
  }
  return out;
}

onnx::ModelProto parse_model(const void* data, size_t size, const std::string& where) {
  if (size == 0) fail("onnx", where, ": empty file");
  if (size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    fail("onnx", where, ": larger than 2 GB, which protobuf cannot hold; use external data (unsupported)");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size))) {
    fail("onnx", where, ": not an ONNX model (the protobuf message does not parse)");
  }
  if (!model.has_graph() || model.ir_version() <= 0) {
    fail("onnx", where, ": not an ONNX model (no graph or IR version)");
  }
  return model;
}

onnx::ModelProto read_model(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("onnx", path, ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) fail("onnx", path, ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("onnx", path, ": cannot open");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("onnx", path, ": read error");
  return parse_model(bytes.data(), bytes.size(), path);
}

int64_t default_opset(const onnx::ModelProto& model, const std::string& where) {
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  }
  fail("onnx", where, ": the model imports no opset of the default ONNX domain");
}

}  // namespace ember::onnx_import
