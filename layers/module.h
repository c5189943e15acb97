// Module: the building block of models, as torch.nn.Module. A module owns
// named parameters and buffers and named child modules, so every tensor has
// a dotted name identical to PyTorch's state_dict key
// ("layer4.1.bn2.running_mean"), in PyTorch's order (each module's
// parameters, then its buffers, then its children, depth first).
//
// Modules are held by shared_ptr; a layer keeps its tensors as members AND
// registers them, both handles sharing one TensorImpl, so moving a module to
// another device (Tensor::set_data) or loading weights (copy_) changes what
// the layer's own code sees.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ember {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What load_state_dict found: keys the model has but the file lacks, keys
// the file has but the model lacks, and keys whose shapes differ.
struct LoadReport {
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  std::vector<std::string> mismatched;  // "name: model [a, b] vs file [c, d]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string str() const;  // a readable multi-line summary
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  // Runs forward and tells the active ForwardObserver, if any (model summaries
  // use it to see every layer's output). Models call children this way.
  Tensor operator()(const Tensor& x);

  const std::string& type_name() const { return type_name_; }

  // --- Registration (constructors call these) ---
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // --- Traversal ---
  // Own first, then children depth first; names are dotted paths.
  NamedTensors named_parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  const std::vector<std::pair<std::string, ModulePtr>>& named_children() const { return children_; }
  // This module (name "") and every descendant, pre-order.
  std::vector<std::pair<std::string, ModulePtr>> named_modules();
  // Calls fn on this module and every descendant, pre-order (usable in
  // constructors, where named_modules() is not: no shared_ptr owns `this` yet).
  void apply(const std::function<void(Module&)>& fn);
  // The descendant at a dotted path ("layer4.1"); null if there is none.
  ModulePtr find(const std::string& path);
  // The direct child `name`; throws if there is none.
  ModulePtr child(const std::string& name) const;
  // Puts `m` in place of the direct child `name` (same position in the
  // order); models call replaceable parts (the classifier head) via child().
  void replace_child(const std::string& name, ModulePtr m);

  // --- State ---
  // Parameters and buffers under their dotted names, in PyTorch's order.
  NamedTensors state_dict() const;
  // Copies matching entries into this module's tensors (converting dtype and
  // device). strict: any missing, unexpected or mismatched key is an error
  // listing them all; otherwise the matching entries load and the report
  // says what did not.
  LoadReport load_state_dict(const NamedTensors& state, bool strict = true);

  // --- Modes and placement ---
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves every parameter and buffer to `device` in place.
  void to(Device device);
  // Converts floating parameters and buffers to `dtype` in place.
  void to(DType dtype);
  // Lays out every 4-D parameter and buffer (convolution weights) in
  // `format`, in place: model.to(memory_format=torch.channels_last).
  void to(MemoryFormat format);
  Device device() const;  // of the first parameter or buffer (CPU if none)

  // --- Gradients ---
  void requires_grad_(bool on = true);
  void zero_grad();
  int64_t num_parameters(bool trainable_only = false) const;

  // PyTorch-style text: "ResNet(\n  (conv1): Conv2d(3, 64, kernel_size=(7, 7), ...)\n ...)"
  std::string repr() const;
  // The part inside the parentheses for leaf layers ("3, 64, kernel_size=...").
  virtual std::string extra_repr() const { return ""; }

 protected:
  void add_child(const std::string& name, ModulePtr m);

 private:
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out, bool recurse) const;

  std::string type_name_;
  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  bool training_ = true;
};

// Called after every module's forward while installed (per thread).
using ForwardObserver = std::function<void(const Module& module, const Tensor& input, const Tensor& output)>;
// True while a ForwardObserverScope is installed on this thread: fused layer
// pairs then run one by one, so the observer sees each module.
bool forward_observer_installed();

class ForwardObserverScope {
 public:
  explicit ForwardObserverScope(ForwardObserver observer);
  ~ForwardObserverScope();
  ForwardObserverScope(const ForwardObserverScope&) = delete;
  ForwardObserverScope& operator=(const ForwardObserverScope&) = delete;

 private:
  ForwardObserver observer_;
  ForwardObserver* previous_;
};

// Sets requires_grad on every parameter whose dotted name starts with one of
// `prefixes` ("layer4" matches "layer4.0.conv1.weight" but not "layer40");
// an empty list means all. Returns how many parameters changed. Throws if a
// prefix matches nothing (a typo would otherwise freeze nothing silently).
int64_t set_requires_grad(Module& model, const std::vector<std::string>& prefixes, bool on);

// True if `name` is `prefix` or starts with `prefix` followed by '.'.
bool name_has_prefix(const std::string& name, const std::string& prefix);

}  // namespace ember
