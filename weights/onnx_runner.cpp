// The graph executor: ONNX requires nodes in topological order, so running
// is one pass over them, keeping each value until its last reader (big
// activations are freed as soon as possible). Errors raised inside an op
// by Ember ("conv2d: ...") get the node's name and op prepended.
#include "weights/onnx_runner.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "weights/onnx/node_context.h"
#include "weights/onnx/proto_tensor.h"

namespace ember {

using onnx_import::NodeContext;

struct OnnxRunner::Impl {
  std::string where;
  onnx::ModelProto model;
  int64_t opset = 0;
  Device device;
  std::unordered_map<std::string, Tensor> initializers;
  std::vector<OnnxValueInfo> inputs, outputs;
  std::vector<onnx_import::OpFn> fns;   // per node
  std::vector<std::vector<std::string>> frees;  // per node: values read for the last time

  void load();
};

namespace {

OnnxValueInfo value_info(const onnx::ValueInfoProto& v, const std::string& where) {
  OnnxValueInfo info;
  info.name = v.name();
  if (!v.type().has_tensor_type()) {
    fail("onnx", where, ": graph value '", v.name(), "' is not a tensor (sequence, map and optional values are not supported)");
  }
  const auto& tt = v.type().tensor_type();
  info.dtype = onnx_import::dtype_for(tt.elem_type(), where + ": graph value '" + v.name() + "'");
  if (tt.has_shape()) {
    info.has_shape = true;
    for (const auto& d : tt.shape().dim()) info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return info;
}

}  // namespace

void OnnxRunner::Impl::load() {
  opset = onnx_import::default_opset(model, where);
  const auto& g = model.graph();
  for (const auto& init : g.initializer()) {
    const std::string what = where + ": initializer '" + init.name() + "'";
    Tensor t = onnx_import::tensor_from_proto(init, what);
    initializers[init.name()] = t.is_floating_point() ? t.to(device) : t;
  }
  if (g.sparse_initializer_size() > 0) fail("onnx", where, ": sparse initializers are not supported");
  std::set<std::string> available;
  for (const auto& [name, t] : initializers) available.insert(name);
  for (const auto& in : g.input()) {
    if (initializers.count(in.name())) continue;  // old exporters list initializers as inputs too
    inputs.push_back(value_info(in, where));
    available.insert(in.name());
  }
  for (const auto& out : g.output()) outputs.push_back(value_info(out, where));

  // Check every node before running anything: known op, inputs defined earlier.
  const auto& table = onnx_import::op_table();
  std::unordered_map<std::string, size_t> last_use;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& node = g.node(i);
    const std::string label = cat_str(where, ": node '", node.name(), "' (", node.op_type(), ")");
    if (!node.domain().empty() && node.domain() != "ai.onnx") {
      fail("onnx", label, ": ops of domain '", node.domain(), "' are not supported");
    }
    auto it = table.find(node.op_type());
    if (it == table.end()) fail("onnx", label, ": op ", node.op_type(), " is not supported");
    fns.push_back(it->second);
    for (const auto& in : node.input()) {
      if (in.empty()) continue;
      if (!available.count(in)) {
        fail("onnx", label, ": input '", in, "' is not produced by any earlier node, initializer or graph input");
      }
      last_use[in] = static_cast<size_t>(i);
    }
    for (const auto& out : node.output()) {
      if (!out.empty()) available.insert(out);
    }
  }
  for (const auto& out : outputs) {
    if (!available.count(out.name)) fail("onnx", where, ": graph output '", out.name, "' is never produced");
  }
  std::set<std::string> keep;
  for (const auto& out : outputs) keep.insert(out.name);
  frees.resize(static_cast<size_t>(g.node_size()));
  for (const auto& [name, node] : last_use) {
    if (!keep.count(name) && !initializers.count(name)) frees[node].push_back(name);
  }
}

OnnxRunner::OnnxRunner(const std::string& path, Device device) : impl_(std::make_unique<Impl>()) {
  impl_->where = path;
  impl_->device = device;
  impl_->model = onnx_import::read_model(path);
  impl_->load();
}

OnnxRunner::OnnxRunner(const void* data, size_t size, const std::string& where, Device device)
    : impl_(std::make_unique<Impl>()) {
  impl_->where = where;
  impl_->device = device;
  impl_->model = onnx_import::parse_model(data, size, where);
  impl_->load();
}

OnnxRunner::~OnnxRunner() = default;
OnnxRunner::OnnxRunner(OnnxRunner&&) noexcept = default;
OnnxRunner& OnnxRunner::operator=(OnnxRunner&&) noexcept = default;

const std::vector<OnnxValueInfo>& OnnxRunner::inputs() const { return impl_->inputs; }
const std::vector<OnnxValueInfo>& OnnxRunner::outputs() const { return impl_->outputs; }
int64_t OnnxRunner::opset() const { return impl_->opset; }
Device OnnxRunner::device() const { return impl_->device; }

std::vector<std::string> OnnxRunner::supported_ops() {
  std::vector<std::string> ops;
  for (const auto& [name, fn] : onnx_import::op_table()) ops.push_back(name);
  std::sort(ops.begin(), ops.end());
  return ops;
}

std::vector<std::string> OnnxRunner::op_types(const std::string& path) {
  std::vector<std::string> ops;
  const onnx::ModelProto model = onnx_import::read_model(path);
  for (const auto& node : model.graph().node()) ops.push_back(node.op_type());
  return ops;
}

std::vector<Tensor> OnnxRunner::run(const std::vector<Tensor>& given) const {
  const Impl& m = *impl_;
  if (given.size() != m.inputs.size()) {
    fail("onnx", m.where, ": the model takes ", m.inputs.size(), " input(s), got ", given.size());
  }
  NoGradGuard no_grad;
  std::unordered_map<std::string, Tensor> values;
  for (size_t i = 0; i < given.size(); ++i) {
    const OnnxValueInfo& info = m.inputs[i];
    const Tensor& t = given[i];
    if (!t.defined()) fail("onnx", m.where, ": input '", info.name, "' is undefined");
    if (t.dtype() != info.dtype) {
      fail("onnx", m.where, ": input '", info.name, "' should be ", dtype_name(info.dtype), ", got ", dtype_name(t.dtype()));
    }
    bool shape_ok = !info.has_shape || static_cast<int64_t>(info.shape.size()) == t.dim();
    for (size_t d = 0; shape_ok && info.has_shape && d < info.shape.size(); ++d) {
      shape_ok = info.shape[d] < 0 || info.shape[d] == t.size(static_cast<int64_t>(d));
    }
    if (!shape_ok) {
      fail("onnx", m.where, ": input '", info.name, "' should have shape ", info.shape, " (-1: any), got ", t.shape());
    }
    values[info.name] = t.is_floating_point() ? t.to(m.device) : t;
  }
  auto lookup = [&](const std::string& name) -> Tensor {
    auto it = values.find(name);
    if (it != values.end()) return it->second;
    auto init = m.initializers.find(name);
    return init != m.initializers.end() ? init->second : Tensor();
  };

  const auto& g = m.model.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& node = g.node(i);
    std::vector<Tensor> ins;
    for (const auto& in : node.input()) ins.push_back(in.empty() ? Tensor() : lookup(in));
    NodeContext ctx(node, m.opset, m.device, std::move(ins), m.where);
    std::vector<Tensor> outs;
    try {
      outs = m.fns[static_cast<size_t>(i)](ctx);
    } catch (const Error& e) {
      const std::string msg = e.what();
      if (msg.rfind("onnx: ", 0) == 0) throw;
      throw Error("onnx: " + ctx.where() + ": " + msg);
    }
    for (int k = 0; k < node.output_size(); ++k) {
      if (node.output(k).empty()) continue;
      if (static_cast<size_t>(k) >= outs.size()) ctx.fail("output ", k, " ('", node.output(k), "') is not supported");
      values[node.output(k)] = outs[static_cast<size_t>(k)];
    }
    for (const auto& name : m.frees[static_cast<size_t>(i)]) values.erase(name);
  }
  std::vector<Tensor> result;
  for (const auto& out : m.outputs) result.push_back(lookup(out.name));
  return result;
}

}  // namespace ember
