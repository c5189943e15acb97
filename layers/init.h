// Weight initialisation as torch.nn.init, drawing from Ember's generators.
// fan_in = in_channels/groups * kernel area (or in_features); fan_out likewise.
#pragma once

#include <string>

#include "engine/random.h"
#include "engine/tensor.h"

namespace ember::init {

int64_t fan_in(const Tensor& weight);
int64_t fan_out(const Tensor& weight);

// The gain of `nonlinearity` ("linear", "relu", "leaky_relu" with slope a, "tanh", "sigmoid").
double gain(const std::string& nonlinearity, double a = 0.0);

void uniform_(const Tensor& t, double low, double high, Generator* gen = nullptr);
void normal_(const Tensor& t, double mean, double std, Generator* gen = nullptr);
void constant_(const Tensor& t, double value);
void zeros_(const Tensor& t);
void ones_(const Tensor& t);
// mode "fan_in" or "fan_out"; PyTorch's defaults (a = 0, "fan_in", "leaky_relu").
void kaiming_uniform_(const Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                      const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void kaiming_normal_(const Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                     const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void xavier_uniform_(const Tensor& t, double gain = 1.0, Generator* gen = nullptr);

// What nn.Conv2d and nn.Linear do in reset_parameters(): weight from
// kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and
// the bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void default_layer_init(const Tensor& weight, const Tensor& bias, Generator* gen = nullptr);

}  // namespace ember::init
