// What an ONNX op implementation sees of its node: the input tensors, the
// attributes (typed, with defaults), the opset, the target device, and one
// way to fail that names the model, the node and the op. Every op lives in
// a function `std::vector<Tensor> op(NodeContext&)` registered by name in an
// OpTable (weights/onnx/ops_*.cpp).
#pragma once

#include <onnx/onnx_pb.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/error.h"
#include "engine/tensor.h"

namespace ember::onnx_import {

class NodeContext {
 public:
  NodeContext(const onnx::NodeProto& node, int64_t opset, Device device, std::vector<Tensor> inputs,
              const std::string& where);

  const std::string& op() const { return node_.op_type(); }
  const onnx::NodeProto& node() const { return node_; }
  const std::string& model() const { return model_; }
  int64_t opset() const { return opset_; }
  Device device() const { return device_; }
  // Where in the model, for messages: "m.onnx: node 'Conv_0' (Conv, opset 13)".
  std::string where() const;

  // Inputs as written in the node; an empty name is an omitted optional input.
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i].defined(); }
  const Tensor& input(size_t i) const;  // throws when missing
  // Values of a small (shape-like) integer or float input, read on the host.
  std::vector<int64_t> input_ints(size_t i) const;
  double input_scalar(size_t i) const;
  // Outputs the graph wants (non-empty names).
  size_t num_outputs() const { return static_cast<size_t>(node_.output_size()); }
  bool wants_output(size_t i) const { return i < num_outputs() && !node_.output(static_cast<int>(i)).empty(); }

  bool has_attr(const char* name) const { return find(name) != nullptr; }
  int64_t attr_int(const char* name, int64_t def) const;
  int64_t attr_int(const char* name) const;  // required
  float attr_float(const char* name, float def) const;
  std::string attr_string(const char* name, const std::string& def) const;
  std::vector<int64_t> attr_ints(const char* name, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const char* name) const;
  Tensor attr_tensor(const char* name) const;
  // Any attribute not listed is "not supported", naming it.
  void allow_attrs(std::initializer_list<const char*> names) const;

  // Floating tensors go to the run's device; integer ones (shapes, indices)
  // stay on the CPU, where shape arithmetic happens.
  Tensor place(const Tensor& t) const;

  template <class... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw Error(cat_str("onnx: ", where(), ": ", parts...));
  }
  // "attribute 'auto_pad' = 'FOO' is not supported"
  template <class V>
  [[noreturn]] void unsupported(const char* attr, const V& value, const std::string& why = "") const {
    fail("attribute '", attr, "' = ", value, " is not supported", why.empty() ? "" : " (" + why + ")");
  }

 private:
  const onnx::AttributeProto* find(const char* name) const;
  const onnx::AttributeProto& typed(const char* name, int type) const;

  const onnx::NodeProto& node_;
  int64_t opset_;
  Device device_;
  std::vector<Tensor> inputs_;
  const std::string& model_;
};

using OpFn = std::vector<Tensor> (*)(NodeContext&);
using OpTable = std::unordered_map<std::string, OpFn>;

// Each family registers its ops (one file each).
void register_elementwise_ops(OpTable& table);
void register_conv_pool_ops(OpTable& table);
void register_math_ops(OpTable& table);
void register_shape_ops(OpTable& table);
void register_pad_gather_ops(OpTable& table);
void register_slice_cast_ops(OpTable& table);
// All of them, built once.
const OpTable& op_table();

// Shared helpers for the op files.
// Moves a CPU tensor to `like`'s device when they differ (binary ops).
Tensor on_device_of(const Tensor& t, const Tensor& like);
// Wraps a (possibly negative) axis into [0, rank), failing with the node's name.
int64_t wrap_axis(const NodeContext& ctx, int64_t axis, int64_t rank, const char* what = "axis");

}  // namespace ember::onnx_import
