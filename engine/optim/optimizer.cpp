// The update rules follow torch.optim (1.13) line by line, written with
// Ember's in-place tensor ops under NoGradGuard:
//   SGD:     g += wd*p; b = mu*b + (1-damp)*g (b = g first); g = nesterov ? g + mu*b : b; p -= lr*g
//   Adam:    g += wd*p (AdamW instead p *= 1 - lr*wd); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
//            p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)   (amsgrad: v -> running max of v)
//   RMSprop: g += wd*p; v = a*v + (1-a)*g^2; avg = sqrt(v - mean_g^2 if centered) + eps;
//            momentum ? (b = mu*b + g/avg; p -= lr*b) : p -= lr*g/avg
#include "engine/optim/optimizer.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace ember {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  for (const ParamGroup& g : groups_) {
    EMBER_CHECK(g.lr >= 0, "optimizer", "learning rate must be non-negative, got ", g.lr);
    EMBER_CHECK(g.weight_decay >= 0, "optimizer", "weight decay must be non-negative, got ", g.weight_decay);
    for (const Tensor& p : g.params) {
      EMBER_CHECK(p.defined() && p.is_leaf() && is_floating(p.dtype()), "optimizer",
                  "parameters must be floating-point leaf tensors");
    }
    state_.emplace_back(g.params.size());
  }
}

void Optimizer::zero_grad() {
  for (ParamGroup& g : groups_) {
    for (Tensor& p : g.params) p.zero_grad();
  }
}

std::map<std::string, Tensor>& Optimizer::state(size_t group, size_t index) { return state_.at(group).at(index); }

std::vector<ParamGroup> single_group(const std::vector<Tensor>& params, double lr, double weight_decay) {
  ParamGroup g;
  g.params = params;
  g.lr = lr;
  g.weight_decay = weight_decay;
  return {g};
}

SGD::SGD(std::vector<ParamGroup> groups, SgdOptions options) : Optimizer(std::move(groups)), options_(options) {
  EMBER_CHECK(options_.momentum >= 0, "sgd", "momentum must be non-negative, got ", options_.momentum);
  EMBER_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0), "sgd",
              "nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& group = groups_[gi];
    for (size_t i = 0; i < group.params.size(); ++i) {
      Tensor& p = group.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (group.weight_decay != 0) g = add(g, p, group.weight_decay);
      if (options_.momentum != 0) {
        auto& st = state(gi, i);
        auto it = st.find("momentum_buffer");
        if (it == st.end()) {
          st["momentum_buffer"] = g.clone();
        } else {
          it->second.mul_(options_.momentum).add_(g, 1.0 - options_.dampening);
        }
        Tensor& buf = st["momentum_buffer"];
        g = options_.nesterov ? add(g, buf, options_.momentum) : buf;
      }
      p.add_(g, -group.lr);
    }
  }
  ++steps_;
}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options) : Optimizer(std::move(groups)), options_(options) {
  EMBER_CHECK(options_.beta1 >= 0 && options_.beta1 < 1 && options_.beta2 >= 0 && options_.beta2 < 1, "adam",
              "betas must be in [0, 1), got ", options_.beta1, " and ", options_.beta2);
  EMBER_CHECK(options_.eps >= 0, "adam", "eps must be non-negative");
}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& group = groups_[gi];
    for (size_t i = 0; i < group.params.size(); ++i) {
      Tensor& p = group.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& st = state(gi, i);
      if (st.empty()) {
        st["step"] = scalar_tensor(0.0, DType::Float64);
        st["exp_avg"] = zeros_like(p);
        st["exp_avg_sq"] = zeros_like(p);
        if (options_.amsgrad) st["max_exp_avg_sq"] = zeros_like(p);
      }
      double t = st["step"].item() + 1;
      st["step"].fill_(t);
      if (group.weight_decay != 0) {
        if (options_.decoupled_weight_decay) p.mul_(1.0 - group.lr * group.weight_decay);
        else g = add(g, p, group.weight_decay);
      }
      Tensor& m = st["exp_avg"];
      Tensor& v = st["exp_avg_sq"];
      m.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
      v.mul_(options_.beta2).add_(mul(g, g), 1.0 - options_.beta2);
      double bc1 = 1.0 - std::pow(options_.beta1, t);
      double bc2 = 1.0 - std::pow(options_.beta2, t);
      Tensor second = v;
      if (options_.amsgrad) {
        Tensor& vmax = st["max_exp_avg_sq"];
        vmax.copy_(maximum(vmax, v));
        second = vmax;
      }
      Tensor denom = add(div(sqrt(second), std::sqrt(bc2)), options_.eps);
      p.add_(div(m, denom), -group.lr / bc1);
    }
  }
  ++steps_;
}

RMSprop::RMSprop(std::vector<ParamGroup> groups, RmspropOptions options)
    : Optimizer(std::move(groups)), options_(options) {
  EMBER_CHECK(options_.alpha >= 0, "rmsprop", "alpha must be non-negative");
  EMBER_CHECK(options_.eps >= 0, "rmsprop", "eps must be non-negative");
}

void RMSprop::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& group = groups_[gi];
    for (size_t i = 0; i < group.params.size(); ++i) {
      Tensor& p = group.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& st = state(gi, i);
      if (st.empty()) {
        st["square_avg"] = zeros_like(p);
        if (options_.momentum > 0) st["momentum_buffer"] = zeros_like(p);
        if (options_.centered) st["grad_avg"] = zeros_like(p);
      }
      if (group.weight_decay != 0) g = add(g, p, group.weight_decay);
      Tensor& sq = st["square_avg"];
      sq.mul_(options_.alpha).add_(mul(g, g), 1.0 - options_.alpha);
      Tensor avg;
      if (options_.centered) {
        Tensor& ga = st["grad_avg"];
        ga.mul_(options_.alpha).add_(g, 1.0 - options_.alpha);
        avg = add(sqrt(sub(sq, mul(ga, ga))), options_.eps);
      } else {
        avg = add(sqrt(sq), options_.eps);
      }
      if (options_.momentum > 0) {
        Tensor& buf = st["momentum_buffer"];
        buf.mul_(options_.momentum).add_(div(g, avg));
        p.add_(buf, -group.lr);
      } else {
        p.add_(div(g, avg), -group.lr);
      }
    }
  }
  ++steps_;
}

}  // namespace ember
