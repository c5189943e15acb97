#include "layers/init.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops/random_ops.h"

namespace ember::init {

int64_t fan_in(const Tensor& w) {
  EMBER_CHECK(w.dim() >= 2, "init", "fan in and out need a tensor of at least 2 dims, got shape ", w.shape());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return w.size(1) * receptive;
}

int64_t fan_out(const Tensor& w) {
  EMBER_CHECK(w.dim() >= 2, "init", "fan in and out need a tensor of at least 2 dims, got shape ", w.shape());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return w.size(0) * receptive;
}

double gain(const std::string& nonlinearity, double a) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity == "conv2d") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + a * a));
  if (nonlinearity == "selu") return 0.75;
  fail("init", "unknown nonlinearity '", nonlinearity, "'");
}

namespace {
void fill_from(const Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  Tensor dst = t;
  dst.copy_(values);
}
int64_t fan(const Tensor& t, const std::string& mode) {
  if (mode == "fan_in") return fan_in(t);
  if (mode == "fan_out") return fan_out(t);
  fail("init", "mode must be 'fan_in' or 'fan_out', got '", mode, "'");
}
}  // namespace

void uniform_(const Tensor& t, double low, double high, Generator* gen) {
  fill_from(t, uniform(t.shape(), low, high, TensorOptions(t.dtype(), t.device()), gen));
}

void normal_(const Tensor& t, double mean, double std, Generator* gen) {
  fill_from(t, normal(t.shape(), mean, std, TensorOptions(t.dtype(), t.device()), gen));
}

void constant_(const Tensor& t, double value) {
  NoGradGuard no_grad;
  Tensor dst = t;
  dst.fill_(value);
}
void zeros_(const Tensor& t) { constant_(t, 0.0); }
void ones_(const Tensor& t) { constant_(t, 1.0); }

void kaiming_uniform_(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                      Generator* gen) {
  double std = gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t, mode)));
  double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                     Generator* gen) {
  double std = gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t, mode)));
  normal_(t, 0.0, std, gen);
}

void xavier_uniform_(const Tensor& t, double g, Generator* gen) {
  double std = g * std::sqrt(2.0 / static_cast<double>(fan_in(t) + fan_out(t)));
  double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}

void default_layer_init(const Tensor& weight, const Tensor& bias, Generator* gen) {
  kaiming_uniform_(weight, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  if (bias.defined()) {
    int64_t fi = fan_in(weight);
    double bound = fi > 0 ? 1.0 / std::sqrt(static_cast<double>(fi)) : 0.0;
    uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace ember::init
