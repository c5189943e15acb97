#include "weights/onnx/node_context.h"

#include <algorithm>
#include <cstring>

#include "weights/onnx/proto_tensor.h"

namespace ember::onnx_import {
namespace {

const char* attr_type_name(int t) {
  switch (t) {
    case onnx::AttributeProto::FLOAT: return "float";
    case onnx::AttributeProto::INT: return "int";
    case onnx::AttributeProto::STRING: return "string";
    case onnx::AttributeProto::TENSOR: return "tensor";
    case onnx::AttributeProto::FLOATS: return "floats";
    case onnx::AttributeProto::INTS: return "ints";
    case onnx::AttributeProto::STRINGS: return "strings";
    case onnx::AttributeProto::GRAPH: return "graph";
    default: return "another type";
  }
}

}  // namespace

NodeContext::NodeContext(const onnx::NodeProto& node, int64_t opset, Device device, std::vector<Tensor> inputs,
                         const std::string& where)
    : node_(node), opset_(opset), device_(device), inputs_(std::move(inputs)), model_(where) {}

std::string NodeContext::where() const {
  return cat_str(model_, ": node '", node_.name(), "' (", node_.op_type(), ", opset ", opset_, ")");
}

const Tensor& NodeContext::input(size_t i) const {
  if (!has_input(i)) fail("input ", i, " is required but missing");
  return inputs_[i];
}

std::vector<int64_t> NodeContext::input_ints(size_t i) const {
  const Tensor& t = input(i);
  if (t.dim() > 1) fail("input ", i, " must be a scalar or 1-D, got shape ", t.shape());
  if (t.numel() > (1 << 20)) fail("input ", i, " is too large for a list of integers (", t.numel(), " values)");
  if (t.is_floating_point()) fail("input ", i, " must hold integers, got ", dtype_name(t.dtype()));
  return t.to(kCPU).to_vector<int64_t>();
}

double NodeContext::input_scalar(size_t i) const {
  const Tensor& t = input(i);
  if (t.numel() != 1) fail("input ", i, " must hold one value, got shape ", t.shape());
  return t.to(kCPU).item<double>();
}

const onnx::AttributeProto* NodeContext::find(const char* name) const {
  for (const auto& a : node_.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

const onnx::AttributeProto& NodeContext::typed(const char* name, int type) const {
  const onnx::AttributeProto* a = find(name);
  if (!a) fail("attribute '", name, "' is required");
  // Old exporters leave the type unset; infer it from the field present.
  int have = a->type();
  if (have == onnx::AttributeProto::UNDEFINED) {
    have = a->has_f() ? onnx::AttributeProto::FLOAT
           : a->has_i() ? onnx::AttributeProto::INT
           : a->has_s() ? onnx::AttributeProto::STRING
           : a->has_t() ? onnx::AttributeProto::TENSOR
           : a->floats_size() ? onnx::AttributeProto::FLOATS
           : a->ints_size() ? onnx::AttributeProto::INTS
                            : type;
  }
  if (have != type) fail("attribute '", name, "' should be ", attr_type_name(type), ", got ", attr_type_name(have));
  return *a;
}

int64_t NodeContext::attr_int(const char* name, int64_t def) const {
  return has_attr(name) ? typed(name, onnx::AttributeProto::INT).i() : def;
}
int64_t NodeContext::attr_int(const char* name) const { return typed(name, onnx::AttributeProto::INT).i(); }
float NodeContext::attr_float(const char* name, float def) const {
  return has_attr(name) ? typed(name, onnx::AttributeProto::FLOAT).f() : def;
}
std::string NodeContext::attr_string(const char* name, const std::string& def) const {
  return has_attr(name) ? typed(name, onnx::AttributeProto::STRING).s() : def;
}
std::vector<int64_t> NodeContext::attr_ints(const char* name, std::vector<int64_t> def) const {
  if (!has_attr(name)) return def;
  const auto& a = typed(name, onnx::AttributeProto::INTS);
  return {a.ints().begin(), a.ints().end()};
}
std::vector<float> NodeContext::attr_floats(const char* name) const {
  const auto& a = typed(name, onnx::AttributeProto::FLOATS);
  return {a.floats().begin(), a.floats().end()};
}
Tensor NodeContext::attr_tensor(const char* name) const {
  return tensor_from_proto(typed(name, onnx::AttributeProto::TENSOR).t(),
                           where() + ": attribute '" + name + "'");
}

void NodeContext::allow_attrs(std::initializer_list<const char*> names) const {
  for (const auto& a : node_.attribute()) {
    bool known = std::any_of(names.begin(), names.end(), [&](const char* n) { return a.name() == n; });
    if (!known) fail("attribute '", a.name(), "' is not supported");
  }
}

Tensor NodeContext::place(const Tensor& t) const {
  return t.is_floating_point() && t.device() != device_ ? t.to(device_) : t;
}

Tensor on_device_of(const Tensor& t, const Tensor& like) {
  return t.device() == like.device() ? t : t.to(like.device());
}

int64_t wrap_axis(const NodeContext& ctx, int64_t axis, int64_t rank, const char* what) {
  const int64_t r = std::max<int64_t>(rank, 1);
  if (axis < -r || axis >= r) ctx.fail(what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + r : axis;
}

const OpTable& op_table() {
  static const OpTable table = [] {
    OpTable t;
    register_elementwise_ops(t);
    register_conv_pool_ops(t);
    register_math_ops(t);
    register_shape_ops(t);
    register_pad_gather_ops(t);
    register_slice_cast_ops(t);
    return t;
  }();
  return table;
}

}  // namespace ember::onnx_import
