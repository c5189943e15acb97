#include "tools/train/model_setup.h"

#include <filesystem>
#include <sstream>

#include "engine/error.h"
#include "layers/batch_norm2d.h"
#include "models/registry.h"
#include "weights/npz.h"
#include "weights/onnx_tensors.h"

namespace ember {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Classes of the head in a weights file: the rows of the last 2-D weight under `head`.
int64_t head_classes(const NamedTensors& entries, const std::string& head) {
  int64_t classes = 0;
  for (const auto& [name, t] : entries) {
    if (name_has_prefix(name, head) && ends_with(name, ".weight") && t.dim() == 2) classes = t.size(0);
  }
  return classes;
}

}  // namespace

NamedTensors read_weights_file(const std::string& path) {
  EMBER_CHECK(std::filesystem::exists(path), "weights", path, " does not exist");
  std::string ext = std::filesystem::path(path).extension().string();
  NamedTensors entries;
  if (ext == ".npz") {
    entries = load_npz(path);
  } else if (ext == ".onnx") {
    entries = load_onnx_initializers(path);
  } else if (ext == ".pth" || ext == ".pt" || ext == ".th") {
    fail("weights", path, ": PyTorch pickles cannot be read without Python; convert it first with "
         "`python3 weights/convert_torchvision.py --pth ", path, " --model NAME --out weights.npz`");
  } else {
    fail("weights", path, ": unknown weights format '", ext, "' (expected .npz or .onnx)");
  }
  // Checkpoints saved from DataParallel prefix every name with "module.".
  for (auto& [name, t] : entries) {
    if (name.rfind("module.", 0) == 0) name = name.substr(7);
  }
  return entries;
}

ModelSetup build_model(const TrainConfig& c, int64_t data_classes) {
  ModelSetup s;
  const std::string name = c.str("model.name");
  const ModelEntry& entry = model_entry(name);
  s.head = entry.head;
  int64_t want = c.i64("model.num_classes") > 0 ? c.i64("model.num_classes") : data_classes;
  EMBER_CHECK(want > 0, "config", "model.num_classes is 0 and the data gives no class count");
  std::ostringstream log;
  bool new_head = c.flag("model.new_head");
  if (c.is_set("model.weights")) {
    std::string path = c.str("model.weights");
    NamedTensors entries = read_weights_file(path);
    int64_t file_classes = head_classes(entries, entry.head);
    s.model = create_model(name, file_classes > 0 ? file_classes : want);
    LoadReport r = s.model->load_state_dict(entries, /*strict=*/false);
    // Files converted from other frameworks may lack BN's batch counter; nothing else may be missing.
    std::vector<std::string> missing;
    for (const std::string& m : r.missing) {
      if (!ends_with(m, "num_batches_tracked")) missing.push_back(m);
    }
    if (!missing.empty() || !r.mismatched.empty()) {
      r.missing = missing;
      fail("weights", path, " does not fit ", name, " (is it another architecture?):\n", r.str());
    }
    log << "loaded " << entries.size() - r.unexpected.size() << " tensors from " << path;
    if (!r.unexpected.empty()) log << " (ignored " << r.unexpected.size() << " unknown: " << r.unexpected[0] << ", ...)";
    log << '\n';
    if (!new_head && file_classes > 0 && file_classes != want) {
      fail("weights", path, " has a ", file_classes, "-class head but the data has ", want,
           " classes; set model.new_head: true (or --new-head) to replace the head with Dropout + Linear(", want, ")");
    }
  } else {
    s.model = create_model(name, want);
  }
  if (new_head) {
    replace_head(*s.model, entry.head, want, c.f64("model.head_dropout"));
    log << "new head: Dropout(" << c.f64("model.head_dropout") << ") + Linear(" << want << ") as '" << entry.head
        << "'\n";
  }
  log << apply_freezing(*s.model, entry.head, c);
  if (c.flag("freeze.bn_eval")) {
    for (auto& [n, m] : s.model->named_modules()) {
      if (!dynamic_cast<BatchNorm2d*>(m.get())) continue;
      bool all_frozen = true;
      for (auto& [pn, p] : m->named_parameters()) all_frozen = all_frozen && !p.requires_grad();
      if (all_frozen) s.frozen_batchnorms.push_back(m);
    }
  }
  s.report = log.str();
  return s;
}

std::string apply_freezing(Module& model, const std::string& head, const TrainConfig& c) {
  std::string mode = c.str("freeze.mode");
  int64_t from_layer = c.i64("freeze.from_layer");
  auto unfreeze = c.get("freeze.unfreeze").get<std::vector<std::string>>();
  EMBER_CHECK(mode == "none" || mode == "all" || mode == "backbone", "config",
              "freeze.mode must be none, all or backbone, got '", mode, "'");
  if (mode == "all" || mode == "backbone" || from_layer >= 0) set_requires_grad(model, {}, false);
  if (mode == "backbone") set_requires_grad(model, {head}, true);
  if (from_layer >= 0) {
    // Keras counts layers that hold weights; train those from index from_layer on.
    int64_t index = 0, total = 0;
    for (auto& [name, m] : model.named_modules()) {
      if (!m->named_children().empty() || m->named_parameters(false).empty()) continue;
      ++total;
      if (index++ >= from_layer) m->requires_grad_(true);
    }
    EMBER_CHECK(from_layer < total, "config", "freeze.from_layer is ", from_layer, " but the model has only ", total,
                " layers with parameters");
  }
  if (!unfreeze.empty()) set_requires_grad(model, unfreeze, true);
  std::ostringstream s;
  int64_t total = model.num_parameters(), trainable = model.num_parameters(true);
  s << "trainable parameters: " << trainable << " of " << total;
  if (trainable < total) s << " (" << total - trainable << " frozen)";
  s << '\n';
  return s.str();
}

void keep_frozen_batchnorms_in_eval(const std::vector<ModulePtr>& frozen) {
  for (const ModulePtr& m : frozen) m->eval();
}

}  // namespace ember
