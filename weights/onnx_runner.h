// Runs an ONNX graph with Ember's ops, on the CPU or a CUDA device.
//
//   OnnxRunner model("resnet18.onnx", Device::parse("cuda"));
//   std::vector<Tensor> y = model.run({x});   // inputs in graph order
//
// Covers what exported CNN classifiers use: Conv, BatchNormalization, Relu,
// Clip, Sigmoid, HardSigmoid, HardSwish, Add, Sub, Mul, Div, Concat,
// MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul,
// Softmax, ReduceMean, Dropout, Identity, Pad, Transpose, Squeeze,
// Unsqueeze, Shape, Gather, Constant, and Slice, Cast and ConstantOfShape
// (which PyTorch emits around padding), with their attributes across opsets
// (weights/onnx/ops_*.cpp). Loading checks every node's op; an unsupported
// op, attribute or value is an ember::Error naming the model, the node and
// the op. Inference only (no gradients are recorded).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ember {

// A graph input or output as the model declares it.
struct OnnxValueInfo {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;  // -1 for a dim without a fixed size
  bool has_shape = false;      // false when the model declares no shape
};

class OnnxRunner {
 public:
  // Reads and checks the model; its initializers go to `device`.
  explicit OnnxRunner(const std::string& path, Device device = kCPU);
  // The same for a model held in memory; `where` names it in errors.
  OnnxRunner(const void* data, size_t size, const std::string& where, Device device = kCPU);
  ~OnnxRunner();
  OnnxRunner(OnnxRunner&&) noexcept;
  OnnxRunner& operator=(OnnxRunner&&) noexcept;

  // Graph inputs that are not initializers, in graph order; and outputs.
  const std::vector<OnnxValueInfo>& inputs() const;
  const std::vector<OnnxValueInfo>& outputs() const;
  int64_t opset() const;
  Device device() const;

  // Runs the graph. Inputs are checked against the declared dtypes and fixed
  // dims and moved to the runner's device; outputs stay there.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;

  // The op types the runner implements, sorted.
  static std::vector<std::string> supported_ops();
  // The op types a model's main graph uses, in node order (without running it).
  static std::vector<std::string> op_types(const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
