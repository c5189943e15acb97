#include "layers/sequential.h"

#include "layers/activation.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
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
    // A convolution, its batch norm and a fusable activation after them:
    // one op at inference, otherwise the modules (layers/fusion.h decides).
    if (i + 1 < children.size() && dynamic_cast<const Conv2d*>(&m) != nullptr &&
        dynamic_cast<const BatchNorm2d*>(children[i + 1].second.get()) != nullptr) {
      Module* act = i + 2 < children.size() ? children[i + 2].second.get() : nullptr;
      const auto* a = dynamic_cast<const Activation*>(act);
      const bool take_act = a != nullptr && a->fused() != FusedActivation::None;
      h = conv_norm_activation_forward(m, *children[i + 1].second, take_act ? act : nullptr, h);
      i += take_act ? 2 : 1;
      continue;
    }
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
