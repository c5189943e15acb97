#include "weights/onnx_tensors.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "engine/error.h"
#include "weights/onnx/proto_tensor.h"

namespace ember {
namespace {

NamedTensors initializers_of(const onnx::ModelProto& model, const std::string& where) {
  NamedTensors out;
  std::set<std::string> seen;
  const auto& g = model.graph();
  if (g.sparse_initializer_size() > 0) {
    fail("onnx", where, ": sparse initializers are not supported (", g.sparse_initializer_size(), " found)");
  }
  for (const auto& init : g.initializer()) {
    const std::string what = where + ": initializer '" + init.name() + "'";
    if (init.name().empty()) fail("onnx", where, ": an initializer has no name");
    if (!seen.insert(init.name()).second) fail("onnx", what, " appears twice");
    out.emplace_back(init.name(), onnx_import::tensor_from_proto(init, what));
  }
  return out;
}

}  // namespace

NamedTensors load_onnx_initializers(const std::string& path) {
  return initializers_of(onnx_import::read_model(path), path);
}

NamedTensors parse_onnx_initializers(const void* data, size_t size, const std::string& where) {
  return initializers_of(onnx_import::parse_model(data, size, where), where);
}

Tensor load_onnx_tensor(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("onnx", path, ": no such file");
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  onnx::TensorProto p;
  if (!in.good() && !in.eof()) fail("onnx", path, ": read error");
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    fail("onnx", path, ": not a serialized TensorProto");
  }
  return onnx_import::tensor_from_proto(p, path);
}

}  // namespace ember
