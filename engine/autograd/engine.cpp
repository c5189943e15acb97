// The backward pass: count, for every node reachable from the roots, how many
// edges lead into it; then run nodes whose count has dropped to zero, latest
// created first, summing the gradients that arrive at each node before it runs.
#include "engine/autograd/engine.h"

#include <queue>
#include <unordered_map>

#include "engine/autocast.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace ember {
namespace {

struct LaterFirst {
  bool operator()(Node* a, Node* b) const { return a->sequence < b->sequence; }
};

// Runs the graph. With `captures` non-null, gradients arriving at the nodes it
// lists are stored there instead of being accumulated into leaves.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
                  std::unordered_map<Node*, Tensor>* captures) {
  EMBER_CHECK(grads.empty() || grads.size() == roots.size(), "backward", "got ", roots.size(), " roots but ",
              grads.size(), " gradients");
  std::unordered_map<Node*, Tensor> buffers;
  std::vector<std::shared_ptr<Node>> root_nodes;
  NoGradGuard no_grad;  // gradient arithmetic is not itself recorded
  AutocastGuard no_autocast(DType::Float16, false);  // backward runs in the types the forward pass saved
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    EMBER_CHECK(root.defined(), "backward", "root tensor is undefined");
    EMBER_CHECK(root.requires_grad(), "backward",
                "the tensor does not require grad and has no grad_fn (shape ", root.shape(),
                "); did you compute it under NoGradGuard or from tensors without requires_grad?");
    Tensor g = grads.empty() ? Tensor() : grads[i];
    if (!g.defined()) {
      EMBER_CHECK(root.numel() == 1, "backward",
                  "grad can be implicitly created only for one-element outputs, but the output has shape ",
                  root.shape(), "; pass a gradient of that shape");
      g = ones_like(root);
    } else {
      EMBER_CHECK(g.shape() == root.shape(), "backward", "gradient of shape ", g.shape(),
                  " does not match the output of shape ", root.shape());
      EMBER_CHECK(g.device() == root.device(), "backward", "gradient on ", g.device().str(),
                  " but the output is on ", root.device().str());
    }
    std::shared_ptr<Node> node = gradient_edge(root);
    Tensor& slot = buffers[node.get()];
    slot = slot.defined() ? add(slot, g) : g;
    root_nodes.push_back(std::move(node));
  }

  // Dependency counts over the reachable graph.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_map<Node*, bool> seen;
  for (auto& r : root_nodes) {
    if (!seen[r.get()]) {
      seen[r.get()] = true;
      stack.push_back(r.get());
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& next : n->next) {
      if (!next) continue;
      ++deps[next.get()];
      if (!seen[next.get()]) {
        seen[next.get()] = true;
        stack.push_back(next.get());
      }
    }
  }

  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  for (auto& r : root_nodes) {
    if (deps[r.get()] == 0) {
      deps[r.get()] = -1;  // queued
      ready.push(r.get());
    }
  }
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor g;
    if (auto it = buffers.find(node); it != buffers.end()) {
      g = std::move(it->second);
      buffers.erase(it);
    }
    std::vector<Tensor> input_grads;
    bool captured = false;
    if (captures) {
      if (auto it = captures->find(node); it != captures->end()) {
        it->second = g;
        captured = true;
      }
    }
    if (g.defined()) {
      if (std::shared_ptr<TensorImpl> kept = node->retained.lock()) {
        Tensor out(kept);
        Tensor existing = out.grad();
        out.set_grad(existing.defined() ? add(existing, g) : g.clone());
      }
      bool is_leaf_node = dynamic_cast<AccumulateGrad*>(node) != nullptr;
      if (!(is_leaf_node && (captures || captured))) {
        try {
          input_grads = node->apply(g);
        } catch (const Error& e) {
          throw Error(cat_str("backward through ", node->name(), ": ", e.what()));
        }
      }
      if (!retain_graph) node->release_saved();
    }
    for (size_t i = 0; i < node->next.size(); ++i) {
      Node* next = node->next[i].get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        Tensor gi = input_grads[i];
        if (gi.shape() != next->out_shape) {
          fail("backward", node->name(), " returned a gradient of shape ", gi.shape(), " for input ", i,
               " whose shape is ", next->out_shape);
        }
        // A gradient takes its input's type (as torch's validate_outputs does):
        // batch norm under autocast returns 16-bit grads for float32 inputs.
        if (gi.dtype() != next->out_dtype && is_floating(next->out_dtype)) gi = gi.to(next->out_dtype);
        Tensor& slot = buffers[next];
        slot = slot.defined() ? add(slot, gi) : gi;
      }
      if (--deps[next] == 0) ready.push(next);
    }
  }
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  run_backward(roots, grads, retain_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& roots, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grads, bool retain_graph) {
  std::unordered_map<Node*, Tensor> captures;
  std::vector<std::shared_ptr<Node>> input_nodes;
  for (const Tensor& in : inputs) {
    std::shared_ptr<Node> n = gradient_edge(in);
    EMBER_CHECK(n != nullptr, "grad", "an input of shape ", in.shape(), " does not require grad");
    captures[n.get()] = Tensor();
    input_nodes.push_back(std::move(n));
  }
  run_backward(roots, grads, retain_graph, &captures);
  std::vector<Tensor> result;
  for (auto& n : input_nodes) result.push_back(captures[n.get()]);
  return result;
}

}  // namespace ember
