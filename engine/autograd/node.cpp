#include "engine/autograd/node.h"

#include <atomic>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"

namespace ember {

namespace {
std::atomic<uint64_t> g_next_sequence{0};
}

Node::Node() : sequence(g_next_sequence++) {}

AccumulateGrad::AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) {
  Tensor t(leaf);
  out_shape = t.shape();
  out_dtype = t.dtype();
  out_device = t.device();
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  std::shared_ptr<TensorImpl> impl = leaf_.lock();
  if (!impl || !grad_output.defined()) return {};
  Tensor leaf(impl);
  Tensor existing = leaf.grad();
  if (!existing.defined()) {
    // Always a private contiguous copy: the incoming grad may be an expanded
    // view or shared with another input's grad (add passes one buffer to both).
    leaf.set_grad(grad_output.to(leaf.dtype()).clone());
  } else {
    existing.add_(grad_output);
  }
  return {};
}

Saved::Saved(const Tensor& t) {
  if (!t.defined()) return;
  tensor_ = t.detach();
  version_ = t.version();
}

const Tensor& Saved::get() const {
  if (tensor_.defined() && tensor_.version() != version_) {
    fail("autograd",
         "a tensor needed for the backward pass was modified by an in-place operation: it is a ",
         dtype_name(tensor_.dtype()), " tensor of shape ", tensor_.shape(), " saved at version ", version_,
         " and now at version ", tensor_.version(),
         ". Use the out-of-place form of the op that changed it, or clone() it before the change");
  }
  return tensor_;
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
  if (!fn_) {
    fail("backward",
         "trying to backward through the graph a second time (", name_,
         "'s saved tensors were freed by the first backward); pass retain_graph=true the first time");
  }
  NeedsGrad needs(next.size());
  for (size_t i = 0; i < next.size(); ++i) needs[i] = next[i] != nullptr;
  return fn_(grad_output, needs);
}

bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  if (!grad_mode_enabled()) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!grad_mode_enabled()) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  AutogradMeta* meta = t.impl()->autograd.get();
  if (meta->grad_fn) return meta->grad_fn;
  std::shared_ptr<Node> acc = meta->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    meta->grad_accumulator = acc;
  }
  return acc;
}

void record(const char* name, const Tensor& out, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return;
  auto node = std::make_shared<FunctionNode>(name, std::move(fn));
  node->next.reserve(inputs.size());
  for (const Tensor& in : inputs) node->next.push_back(gradient_edge(in));
  node->out_shape = out.shape();
  node->out_dtype = out.dtype();
  node->out_device = out.device();
  TensorImpl* impl = out.impl();
  if (!impl->autograd) impl->autograd = std::make_unique<AutogradMeta>();
  impl->autograd->requires_grad = true;
  impl->autograd->grad_fn = std::move(node);
  impl->autograd->grad_accumulator.reset();
}

}  // namespace ember
