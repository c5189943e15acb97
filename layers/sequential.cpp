#include "layers/sequential.h"

namespace ember {

Sequential::Sequential(std::vector<ModulePtr> modules) : Module("Sequential") {
  for (auto& m : modules) add(std::move(m));
}

Sequential& Sequential::add(ModulePtr m) {
  add_child(std::to_string(size()), std::move(m));
  return *this;
}

Sequential& Sequential::add(const std::string& name, ModulePtr m) {
  add_child(name, std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [_, m] : named_children()) h = (*m)(h);
  return h;
}

}  // namespace ember
