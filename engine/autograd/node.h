// The autograd graph. Each differentiable op that sees an input requiring grad
// creates one Node for its (single) output; the node's `next` holds, for each
// input, the node that produced it (or the leaf's AccumulateGrad), so the
// graph is a DAG from the loss back to the parameters. backward() walks it in
// dependency order (engine/autograd/engine.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ember {

class Node {
 public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Gradients for each input given the gradient of the output; an undefined
  // Tensor where an input needs none.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual std::string name() const = 0;
  // Drops saved tensors after a backward pass without retain_graph.
  virtual void release_saved() {}

  std::vector<std::shared_ptr<Node>> next;  // one per input; null: that input needs no grad
  uint64_t sequence;                       // creation order; later nodes run first
  Shape out_shape;                          // the output's geometry, to check incoming grads
  DType out_dtype = DType::Float32;
  Device out_device;
  std::weak_ptr<TensorImpl> retained;  // non-leaf output that asked to keep its .grad
};

// Adds incoming gradients into a leaf tensor's .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf);
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::string name() const override { return "AccumulateGrad"; }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// A tensor saved for the backward pass, stored detached (no reference back to
// the graph, so outputs can be saved without cycles) together with the
// version of its storage at save time. get() throws if it was overwritten.
class Saved {
 public:
  Saved() = default;
  explicit Saved(const Tensor& t);
  const Tensor& get() const;
  bool defined() const { return tensor_.defined(); }

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
};

// Which inputs of a node want a gradient (index as in the op's input list).
using NeedsGrad = std::vector<bool>;
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad, const NeedsGrad& needs)>;

// A node whose backward is a lambda; most ops use this.
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::string name() const override { return name_; }
  void release_saved() override { fn_ = nullptr; }

 private:
  std::string name_;
  BackwardFn fn_;
};

// True when grad mode is on and any defined input requires grad.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Makes `out` the output of a new node named `name` whose inputs are `inputs`,
// when any_requires_grad(inputs). Call after computing `out`.
void record(const char* name, const Tensor& out, const std::vector<Tensor>& inputs, BackwardFn fn);

// The node a gradient for `t` flows into: its grad_fn, or its AccumulateGrad
// if it is a leaf that requires grad; null otherwise.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

}  // namespace ember
