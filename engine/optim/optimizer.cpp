// The update rules follow torch.optim (1.13) line by line. SGD and Adam run
// as fused backend steps (kernels/optimizer_math.h: one pass per parameter,
// a few launches per list on CUDA), with the same formulas as tensor ops
// for 16-bit or non-contiguous parameters; RMSprop runs as tensor ops under
// NoGradGuard:
//   SGD:     g += wd*p; b = mu*b + (1-damp)*g (b = g first); g = nesterov ? g + mu*b : b; p -= lr*g
//   Adam:    g += wd*p (AdamW instead p *= 1 - lr*wd); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
//            p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)   (amsgrad: v -> running max of v)
//   RMSprop: g += wd*p; v = a*v + (1-a)*g^2; avg = sqrt(v - mean_g^2 if centered) + eps;
//            momentum ? (b = mu*b + g/avg; p -= lr*b) : p -= lr*g/avg
#include "engine/optim/optimizer.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
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

namespace {

// The fused step's entry for p (gradient in p's layout and dtype), or an
// empty entry when p cannot take the fused kernels: 16-bit or non-dense
// parameters or state, which take the unfused formulas.
OptimizerParam fused_entry(const Tensor& p, const Tensor& g, std::initializer_list<Tensor> state) {
  OptimizerParam e;
  // The kernels walk every tensor of an entry as one flat array, so all must
  // be dense in one layout: NCHW, or channels-last (Module::to(ChannelsLast)).
  const MemoryFormat format = suggest_memory_format(p);
  if ((p.dtype() != DType::Float32 && p.dtype() != DType::Float64) || !p.is_contiguous(format)) return e;
  for (const Tensor& t : state)
    if (t.defined() && !same_dense_layout(p, {&t})) return e;
  EMBER_CHECK(g.device() == p.device() && g.numel() == p.numel(), "optimizer", "a gradient of shape ", g.shape(),
              " on ", g.device().str(), " does not match its parameter of shape ", p.shape(), " on ", p.device().str());
  e.param = p;
  e.grad = g.to(p.dtype()).contiguous(format);
  size_t k = 0;
  for (const Tensor& t : state) e.state[k++] = t;
  return e;
}

// Calls step(backend, batch) once per device, with that device's entries,
// and records each parameter as written in place, as the unfused path's
// tensor ops and PyTorch's optimizers do (autograd's version check sees a
// parameter a retained graph saved and a step then changed).
template <class Step>
void for_each_device(const std::vector<OptimizerParam>& params, Step&& step) {
  std::vector<bool> done(params.size(), false);
  std::vector<OptimizerParam> batch;
  for (size_t i = 0; i < params.size(); ++i) {
    if (done[i]) continue;
    const Device device = params[i].param.device();
    batch.clear();
    for (size_t j = i; j < params.size(); ++j) {
      if (done[j] || params[j].param.device() != device) continue;
      batch.push_back(params[j]);
      done[j] = true;
    }
    step(backend(device), batch);
    for (const OptimizerParam& e : batch) mark_written(e.param);
  }
}

// The same formulas as elementwise tensor ops, for parameters the fused
// kernels do not take.
void sgd_step_unfused(Tensor& p, Tensor g, Tensor* buf, bool new_buffer, const SgdScalars& s) {
  if (s.weight_decay != 0) g = add(g, p, s.weight_decay);
  if (buf) {
    if (new_buffer) {
      buf->copy_(g);
    } else {
      buf->mul_(s.momentum).add_(g, 1.0 - s.dampening);
    }
    g = s.nesterov ? add(g, *buf, s.momentum) : *buf;
  }
  p.add_(g, -s.lr);
}

void adam_step_unfused(Tensor& p, Tensor g, std::map<std::string, Tensor>& st, const AdamScalars& s) {
  if (s.weight_decay != 0) {
    if (s.decoupled_weight_decay) p.mul_(1.0 - s.lr * s.weight_decay);
    else g = add(g, p, s.weight_decay);
  }
  Tensor& m = st["exp_avg"];
  Tensor& v = st["exp_avg_sq"];
  m.mul_(s.beta1).add_(g, 1.0 - s.beta1);
  v.mul_(s.beta2).add_(mul(g, g), 1.0 - s.beta2);
  Tensor second = v;
  if (s.amsgrad) {
    Tensor& vmax = st["max_exp_avg_sq"];
    vmax.copy_(maximum(vmax, v));
    second = vmax;
  }
  Tensor denom = add(div(sqrt(second), std::sqrt(s.bias_correction2)), s.eps);
  p.add_(div(m, denom), -s.lr / s.bias_correction1);
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, SgdOptions options) : Optimizer(std::move(groups)), options_(options) {
  EMBER_CHECK(options_.momentum >= 0, "sgd", "momentum must be non-negative, got ", options_.momentum);
  EMBER_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0), "sgd",
              "nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& group = groups_[gi];
    const SgdScalars s{group.lr, group.weight_decay, options_.momentum, options_.dampening, options_.nesterov, false};
    // Momentum buffers made this step start as the step's direction.
    std::vector<OptimizerParam> fresh, running;
    for (size_t i = 0; i < group.params.size(); ++i) {
      Tensor& p = group.params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& st = state(gi, i);
      const bool new_buffer = options_.momentum != 0 && !st.contains("momentum_buffer");
      if (new_buffer) st["momentum_buffer"] = empty_like(p);
      Tensor* buf = options_.momentum != 0 ? &st["momentum_buffer"] : nullptr;
      OptimizerParam e = fused_entry(p, g, {buf ? *buf : Tensor()});
      if (!e.param.defined()) {
        sgd_step_unfused(p, g, buf, new_buffer, s);
        continue;
      }
      (new_buffer ? fresh : running).push_back(std::move(e));
    }
    for_each_device(running, [&](Backend& b, const std::vector<OptimizerParam>& batch) { b.sgd_step(batch, s); });
    SgdScalars first = s;
    first.init_buffer = true;
    for_each_device(fresh, [&](Backend& b, const std::vector<OptimizerParam>& batch) { b.sgd_step(batch, first); });
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
    // Parameters by their own step count t (the same for all, unless some
    // had no gradient at times), which sets the bias corrections.
    std::map<double, std::vector<OptimizerParam>> by_step;
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
      // The step count lives on the host and the bias corrections are kernel
      // arguments: a captured graph would replay the first ones forever.
      EMBER_CHECK(!backend(p.device()).capturing(p.device()), "adam",
                  "cannot run inside a captured graph (its bias correction changes every step and would be frozen "
                  "into the graph); call step() outside the captured function, as `ember train` does");
      const double t = st["step"].item() + 1;
      st["step"].fill_(t);
      OptimizerParam e = fused_entry(p, g, {st["exp_avg"], st["exp_avg_sq"],
                                            options_.amsgrad ? st["max_exp_avg_sq"] : Tensor()});
      if (!e.param.defined()) {
        adam_step_unfused(p, g, st, scalars(group, t));
        continue;
      }
      by_step[t].push_back(std::move(e));
    }
    for (auto& [t, params] : by_step) {
      const AdamScalars s = scalars(group, t);
      for_each_device(params, [&](Backend& b, const std::vector<OptimizerParam>& batch) { b.adam_step(batch, s); });
    }
  }
  ++steps_;
}

AdamScalars Adam::scalars(const ParamGroup& group, double t) const {
  return {group.lr,
          group.weight_decay,
          options_.beta1,
          options_.beta2,
          options_.eps,
          1.0 - std::pow(options_.beta1, t),
          1.0 - std::pow(options_.beta2, t),
          options_.decoupled_weight_decay,
          options_.amsgrad};
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
