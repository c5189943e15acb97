#include "layers/sequential.h"

#include "layers/fusion.h"

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
  const auto& children = named_children();
  Tensor h = x;
  for (size_t i = 0; i < children.size(); ++i) {
    Module& m = *children[i].second;
    // A batch norm and the activation after it run as one fused op.
    if (i + 1 < children.size() && can_fuse_norm_activation(m, *children[i + 1].second)) {
      h = norm_activation(m, *children[i + 1].second, h);
      ++i;
    } else {
      h = m(h);
    }
  }
  return h;
}

}  // namespace ember
