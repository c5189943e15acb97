// Activation layers (no parameters): ReLU, ReLU6, LeakyReLU, SiLU, Hardswish,
// Hardsigmoid, Sigmoid, Tanh, GELU.
#pragma once

#include <functional>

#include "engine/backend.h"
#include "layers/module.h"

namespace ember {

// A parameterless layer applying fn; `name` is its type ("ReLU"). `fused`
// names the same function as an epilogue a batch norm can apply in its own
// kernel (layers/fusion.h); None where it has none.
class Activation final : public Module {
 public:
  Activation(std::string name, std::function<Tensor(const Tensor&)> fn, std::string extra = "",
             FusedActivation fused = FusedActivation::None)
      : Module(std::move(name)), fn_(std::move(fn)), extra_(std::move(extra)), fused_(fused) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }
  std::string extra_repr() const override { return extra_; }
  FusedActivation fused() const { return fused_; }

 private:
  std::function<Tensor(const Tensor&)> fn_;
  std::string extra_;
  FusedActivation fused_;
};

ModulePtr make_relu();
ModulePtr make_relu6();
ModulePtr make_leaky_relu(double negative_slope = 0.01);
ModulePtr make_silu();
ModulePtr make_hardswish();
ModulePtr make_hardsigmoid();
ModulePtr make_sigmoid();
ModulePtr make_tanh();
ModulePtr make_gelu(const std::string& approximate = "none");
// By name: "relu", "relu6", "silu" (or "swish"), "hardswish", "hardsigmoid", "sigmoid", "tanh", "gelu".
ModulePtr make_activation(const std::string& name);

// A factory for activation layers, as models take them (torchvision's activation_layer).
using ActivationFactory = std::function<ModulePtr()>;

}  // namespace ember
