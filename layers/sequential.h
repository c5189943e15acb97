// nn.Sequential: children run in order. Children are named "0", "1", ... by
// default, or given names (torchvision's DenseNet names its features
// "conv0", "norm0", "denseblock1", ...).
#pragma once

#include "layers/module.h"

namespace ember {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<ModulePtr> modules);
  // Appends with the next index as its name.
  Sequential& add(ModulePtr m);
  Sequential& add(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }

 protected:
  explicit Sequential(std::string type_name) : Module(std::move(type_name)) {}
};

}  // namespace ember
