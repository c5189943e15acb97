#include "layers/activation.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace ember {

ModulePtr make_relu() {
  return std::make_shared<Activation>("ReLU", [](const Tensor& x) { return relu(x); }, "", FusedActivation::Relu);
}
ModulePtr make_relu6() {
  return std::make_shared<Activation>("ReLU6", [](const Tensor& x) { return relu6(x); }, "", FusedActivation::Relu6);
}
ModulePtr make_leaky_relu(double slope) {
  return std::make_shared<Activation>("LeakyReLU", [slope](const Tensor& x) { return leaky_relu(x, slope); },
                                      cat_str("negative_slope=", slope));
}
ModulePtr make_silu() {
  return std::make_shared<Activation>("SiLU", [](const Tensor& x) { return silu(x); }, "", FusedActivation::Silu);
}
ModulePtr make_hardswish() {
  return std::make_shared<Activation>("Hardswish", [](const Tensor& x) { return hardswish(x); }, "",
                                      FusedActivation::Hardswish);
}
ModulePtr make_hardsigmoid() {
  return std::make_shared<Activation>("Hardsigmoid", [](const Tensor& x) { return hardsigmoid(x); });
}
ModulePtr make_sigmoid() { return std::make_shared<Activation>("Sigmoid", [](const Tensor& x) { return sigmoid(x); }); }
ModulePtr make_tanh() { return std::make_shared<Activation>("Tanh", [](const Tensor& x) { return tanh(x); }); }
ModulePtr make_gelu(const std::string& approximate) {
  return std::make_shared<Activation>("GELU", [approximate](const Tensor& x) { return gelu(x, approximate); },
                                      "approximate='" + approximate + "'");
}

ModulePtr make_activation(const std::string& name) {
  if (name == "relu") return make_relu();
  if (name == "relu6") return make_relu6();
  if (name == "silu" || name == "swish") return make_silu();
  if (name == "hardswish") return make_hardswish();
  if (name == "hardsigmoid") return make_hardsigmoid();
  if (name == "sigmoid") return make_sigmoid();
  if (name == "tanh") return make_tanh();
  if (name == "gelu") return make_gelu();
  if (name == "leaky_relu") return make_leaky_relu();
  fail("activation", "unknown activation '", name,
       "' (expected relu, relu6, silu, hardswish, hardsigmoid, sigmoid, tanh, gelu, leaky_relu)");
}

}  // namespace ember
