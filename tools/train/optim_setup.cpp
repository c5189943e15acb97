#include "tools/train/optim_setup.h"

#include "engine/error.h"

namespace ember {

using json = nlohmann::json;

std::vector<ParamGroup> build_param_groups(const Module& model, const TrainConfig& c) {
  const json& spec = c.get("optimizer.groups");
  double base_lr = c.f64("optimizer.lr"), base_wd = c.f64("optimizer.weight_decay");
  std::vector<ParamGroup> groups;
  std::vector<std::string> prefixes;
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    ParamGroup g;
    g.name = it.key();
    if (it.value().is_number()) {
      g.lr = it.value().get<double>();
      g.weight_decay = base_wd;
    } else if (it.value().is_object()) {
      for (auto f = it.value().begin(); f != it.value().end(); ++f) {
        EMBER_CHECK(f.key() == "lr" || f.key() == "weight_decay", "config", "optimizer.groups.", it.key(),
                    ": unknown field '", f.key(), "' (lr, weight_decay)");
      }
      g.lr = it.value().value("lr", base_lr);
      g.weight_decay = it.value().value("weight_decay", base_wd);
    } else {
      fail("config", "optimizer.groups.", it.key(), " must be a learning rate or {lr, weight_decay}, got ",
           it.value().dump());
    }
    groups.push_back(g);
    prefixes.push_back(it.key());
  }
  ParamGroup rest{{}, base_lr, base_wd, "base"};
  std::vector<int64_t> used(prefixes.size(), 0);
  for (const auto& [name, p] : model.named_parameters()) {
    if (!p.requires_grad()) continue;
    // The longest matching prefix wins ("layer4.1" over "layer4").
    int best = -1;
    for (size_t i = 0; i < prefixes.size(); ++i) {
      if (name_has_prefix(name, prefixes[i]) && (best < 0 || prefixes[i].size() > prefixes[best].size())) {
        best = static_cast<int>(i);
      }
    }
    if (best >= 0) {
      groups[static_cast<size_t>(best)].params.push_back(p);
      ++used[static_cast<size_t>(best)];
    } else {
      rest.params.push_back(p);
    }
  }
  for (size_t i = 0; i < prefixes.size(); ++i) {
    EMBER_CHECK(used[i] > 0, "config", "optimizer.groups: no trainable parameter name starts with '", prefixes[i],
                "' (frozen, or a typo?)");
  }
  if (!rest.params.empty()) groups.push_back(rest);
  EMBER_CHECK(!groups.empty(), "config", "no parameter is trainable: check the freeze section");
  return groups;
}

std::unique_ptr<Optimizer> build_optimizer(const Module& model, const TrainConfig& c) {
  std::vector<ParamGroup> groups = build_param_groups(model, c);
  std::string name = c.str("optimizer.name");
  if (name == "sgd") {
    SgdOptions o;
    o.momentum = c.f64("optimizer.momentum");
    o.nesterov = c.flag("optimizer.nesterov");
    return std::make_unique<SGD>(groups, o);
  }
  if (name == "adam" || name == "adamw") {
    AdamOptions o;
    std::vector<double> betas = c.get("optimizer.betas").get<std::vector<double>>();
    EMBER_CHECK(betas.size() == 2, "config", "optimizer.betas needs two values, got ", c.get("optimizer.betas").dump());
    o.beta1 = betas[0];
    o.beta2 = betas[1];
    o.eps = c.f64("optimizer.eps");
    o.decoupled_weight_decay = name == "adamw";
    return std::make_unique<Adam>(groups, o);
  }
  if (name == "rmsprop") {
    RmspropOptions o;
    o.momentum = c.f64("optimizer.momentum");
    o.eps = c.f64("optimizer.eps");
    return std::make_unique<RMSprop>(groups, o);
  }
  fail("config", "optimizer.name must be sgd, adam, adamw or rmsprop, got '", name, "'");
}

std::unique_ptr<LRScheduler> build_scheduler(Optimizer& opt, const TrainConfig& c, int64_t epochs,
                                             int64_t steps_per_epoch) {
  std::string name = c.str("scheduler.name");
  if (name == "none") return nullptr;
  if (name == "step") return std::make_unique<StepLR>(opt, c.i64("scheduler.step_size"), c.f64("scheduler.gamma"));
  if (name == "multistep") {
    return std::make_unique<MultiStepLR>(opt, c.get("scheduler.milestones").get<std::vector<int64_t>>(),
                                         c.f64("scheduler.gamma"));
  }
  if (name == "cosine") {
    int64_t t_max = c.i64("scheduler.t_max") > 0 ? c.i64("scheduler.t_max") : epochs;
    return std::make_unique<CosineAnnealingLR>(opt, t_max, c.f64("scheduler.eta_min"), c.i64("scheduler.warmup_epochs"));
  }
  if (name == "plateau") {
    PlateauOptions o;
    o.mode = c.str("scheduler.mode");
    o.factor = c.f64("scheduler.factor");
    o.patience = c.i64("scheduler.patience");
    return std::make_unique<ReduceLROnPlateau>(opt, o);
  }
  if (name == "onecycle") {
    double max_lr = c.f64("scheduler.max_lr") > 0 ? c.f64("scheduler.max_lr") : c.f64("optimizer.lr");
    std::vector<double> max_lrs;
    for (const ParamGroup& g : opt.param_groups()) max_lrs.push_back(g.lr * max_lr / c.f64("optimizer.lr"));
    OneCycleOptions o;
    o.pct_start = c.f64("scheduler.pct_start");
    o.cycle_momentum = opt.has_momentum();
    return std::make_unique<OneCycleLR>(opt, max_lrs, epochs * steps_per_epoch, o);
  }
  fail("config", "scheduler.name must be none, step, multistep, cosine, plateau or onecycle, got '", name, "'");
}

std::unique_ptr<Loss> build_loss(const TrainConfig& c, const std::vector<int64_t>& counts, int64_t num_classes) {
  std::string name = c.str("loss.name");
  if (name == "bce_with_logits") return std::make_unique<BCEWithLogitsLoss>();
  EMBER_CHECK(name == "cross_entropy", "config", "loss.name must be cross_entropy or bce_with_logits, got '", name, "'");
  Tensor weight;
  const json& w = c.get("loss.class_weights");
  if (w.is_string()) {
    EMBER_CHECK(w.get<std::string>() == "balanced", "config", "loss.class_weights must be a list or \"balanced\"");
    // sklearn's "balanced": n_samples / (n_classes * count_c).
    std::vector<float> v(static_cast<size_t>(num_classes), 1.0f);
    int64_t total = 0;
    for (int64_t n : counts) total += n;
    for (size_t k = 0; k < v.size() && k < counts.size(); ++k) {
      if (counts[k] > 0) v[k] = static_cast<float>(total) / static_cast<float>(num_classes * counts[k]);
    }
    weight = from_vector(v, {num_classes});
  } else if (w.is_array() && !w.empty()) {
    std::vector<float> v = w.get<std::vector<float>>();
    EMBER_CHECK(static_cast<int64_t>(v.size()) == num_classes, "config", "loss.class_weights has ", v.size(),
                " values for ", num_classes, " classes");
    weight = from_vector(v, {num_classes});
  }
  return std::make_unique<CrossEntropyLoss>(weight, c.f64("loss.label_smoothing"));
}

MixedPrecision build_mixed_precision(const TrainConfig& config) {
  MixedPrecision mp;
  mp.autocast = autocast_dtype_of(config.str("train.precision"), "train.precision");
  mp.scaler.enabled = mp.autocast == DType::Float16;
  return mp;
}

}  // namespace ember
