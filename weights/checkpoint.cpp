#include "weights/checkpoint.h"

#include <cstring>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "weights/npz.h"

namespace ember {

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const LRScheduler* scheduler, const CheckpointInfo& info) {
  NamedTensors entries;
  for (auto& [name, t] : model.state_dict()) entries.emplace_back("model/" + name, t.detach());
  nlohmann::json meta{{"format_version", kCheckpointFormatVersion},
                      {"epoch", info.epoch},
                      {"step", info.step},
                      {"generator", {{"seed", info.generator.seed}, {"offset", info.generator.offset}}},
                      {"metrics", info.metrics},
                      {"extra", info.extra}};
  if (optimizer) {
    nlohmann::json groups = nlohmann::json::array();
    const auto& pg = optimizer->param_groups();
    auto* opt = const_cast<Optimizer*>(optimizer);  // state() is a non-const accessor
    for (size_t g = 0; g < pg.size(); ++g) {
      groups.push_back({{"lr", pg[g].lr}, {"weight_decay", pg[g].weight_decay}, {"name", pg[g].name},
                        {"size", pg[g].params.size()}});
      for (size_t i = 0; i < pg[g].params.size(); ++i) {
        for (auto& [key, t] : opt->state(g, i)) {
          entries.emplace_back("optimizer/" + std::to_string(g) + "/" + std::to_string(i) + "/" + key, t.detach());
        }
      }
    }
    meta["optimizer"] = {{"name", optimizer->name()}, {"steps", optimizer->steps()}, {"groups", groups},
                         {"momentum", optimizer->momentum()}};
  }
  if (scheduler) meta["scheduler"] = {{"name", scheduler->name()}, {"state", scheduler->state()}};
  std::string text = meta.dump();
  entries.emplace_back("meta.json", from_blob_copy(text.data(), {static_cast<int64_t>(text.size())}, DType::UInt8));
  save_npz(path, entries, /*compress=*/false);
}

CheckpointInfo Checkpoint::info() const {
  CheckpointInfo i;
  i.epoch = meta.value("epoch", int64_t{0});
  i.step = meta.value("step", int64_t{0});
  if (meta.contains("generator")) {
    i.generator.seed = meta["generator"].value("seed", uint64_t{0});
    i.generator.offset = meta["generator"].value("offset", uint64_t{0});
  }
  if (meta.contains("metrics")) i.metrics = meta["metrics"];
  if (meta.contains("extra")) i.extra = meta["extra"];
  return i;
}

Checkpoint load_checkpoint(const std::string& path) {
  NamedTensors entries = load_npz(path);
  Checkpoint c;
  bool has_meta = false;
  for (auto& [name, t] : entries) {
    if (name == "meta.json") {
      EMBER_CHECK(t.dtype() == DType::UInt8 && t.dim() == 1, "checkpoint", path, ": meta.json is not a byte array");
      std::string text(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()));
      try {
        c.meta = nlohmann::json::parse(text);
      } catch (const std::exception& e) {
        fail("checkpoint", path, ": meta.json is not valid JSON (", e.what(), ")");
      }
      has_meta = true;
    } else if (name.rfind("model/", 0) == 0) {
      c.model.emplace_back(name.substr(6), t);
    } else if (name.rfind("optimizer/", 0) == 0) {
      c.optimizer.emplace_back(name.substr(10), t);
    }
  }
  EMBER_CHECK(has_meta, "checkpoint", path, ": not an Ember checkpoint (no meta.json entry); for plain weights use --weights");
  int version = c.meta.value("format_version", 0);
  EMBER_CHECK(version >= 1 && version <= kCheckpointFormatVersion, "checkpoint", path, ": format version ", version,
              " is not supported by this Ember (it reads up to ", kCheckpointFormatVersion, ")");
  return c;
}

void restore_checkpoint(const Checkpoint& ckpt, Module& model, Optimizer* optimizer, LRScheduler* scheduler,
                        const std::string& where) {
  try {
    model.load_state_dict(ckpt.model, /*strict=*/true);
  } catch (const Error& e) {
    fail("checkpoint", where, ": the model does not match: ", e.what());
  }
  if (optimizer) {
    EMBER_CHECK(ckpt.meta.contains("optimizer"), "checkpoint", where, " has no optimizer state");
    const auto& om = ckpt.meta["optimizer"];
    EMBER_CHECK(om.value("name", std::string()) == optimizer->name(), "checkpoint", where, " holds ",
                om.value("name", std::string("?")), " state but the optimizer is ", optimizer->name());
    auto& groups = optimizer->param_groups();
    EMBER_CHECK(om["groups"].size() == groups.size(), "checkpoint", where, " has ", om["groups"].size(),
                " parameter groups, the optimizer has ", groups.size());
    for (size_t g = 0; g < groups.size(); ++g) {
      EMBER_CHECK(om["groups"][g].value("size", size_t{0}) == groups[g].params.size(), "checkpoint", where, ": group ",
                  g, " holds ", om["groups"][g].value("size", size_t{0}), " parameters, the optimizer's has ",
                  groups[g].params.size());
      groups[g].lr = om["groups"][g].value("lr", groups[g].lr);
    }
    NoGradGuard no_grad;
    for (auto& [key, t] : ckpt.optimizer) {
      size_t a = key.find('/'), b = key.find('/', a + 1);
      EMBER_CHECK(a != std::string::npos && b != std::string::npos, "checkpoint", where, ": bad optimizer entry '",
                  key, "'");
      size_t g = std::stoul(key.substr(0, a)), i = std::stoul(key.substr(a + 1, b - a - 1));
      EMBER_CHECK(g < groups.size() && i < groups[g].params.size(), "checkpoint", where, ": optimizer entry '", key,
                  "' is out of range");
      const Tensor& p = groups[g].params[i];
      // Per-parameter scalars (Adam's step count) stay on the host, where the
      // optimizer made them: on a GPU every step would read them back.
      const Device target = t.dim() == 0 ? Device(kCPU) : p.device();
      optimizer->state(g, i)[key.substr(b + 1)] = t.to(target).clone();
    }
    optimizer->set_steps(om.value("steps", int64_t{0}));
    if (optimizer->has_momentum() && om.contains("momentum")) optimizer->set_momentum(om["momentum"].get<double>());
  }
  if (scheduler && ckpt.meta.contains("scheduler")) {
    EMBER_CHECK(ckpt.meta["scheduler"].value("name", std::string()) == scheduler->name(), "checkpoint", where,
                " holds a ", ckpt.meta["scheduler"].value("name", std::string("?")), " schedule but the run uses ",
                scheduler->name());
    scheduler->load_state(ckpt.meta["scheduler"]["state"].get<std::vector<double>>());
  }
}

}  // namespace ember
