#include "tools/train/model_setup.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/pipeline_config.h"
#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "layers/batch_norm2d.h"
#include "layers/linear.h"
#include "models/registry.h"
#include "tools/lib/edit_distance.h"
#include "weights/npz.h"
#include "weights/onnx_tensors.h"

namespace ember {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The names of the weights file's classes for model.head_from_classes: from
// model.class_names, else from the manifest convert_torchvision.py writes
// beside the weights.
std::vector<std::string> weights_class_names(const TrainConfig& c) {
  if (c.is_set("model.class_names")) return read_class_names(c.str("model.class_names"), "model.class_names");
  std::string manifest = std::filesystem::path(c.str("model.weights")).replace_extension(".json").string();
  if (std::filesystem::exists(manifest)) {
    nlohmann::json m = read_config_file(manifest);
    if (m.contains("class_names") && m["class_names"].is_array()) {
      return m["class_names"].get<std::vector<std::string>>();
    }
  }
  fail("config", "model.head_from_classes names classes, but there is no list of the weights' class names: set "
       "model.class_names to a file with one name per line (or convert the weights with --classes), or give indices");
}

// model.head_from_classes: for each class of the data, in the data's order,
// the row of the pretrained classifier (of `file_classes` rows) it starts from.
std::vector<int64_t> source_rows(const TrainConfig& c, int64_t file_classes, int64_t data_classes) {
  const nlohmann::json& wanted = c.get("model.head_from_classes");
  EMBER_CHECK(static_cast<int64_t>(wanted.size()) == data_classes, "config", "model.head_from_classes lists ",
              wanted.size(), " classes but the data has ", data_classes, "; give one per data class, in the data's order");
  std::vector<std::string> names;
  std::vector<int64_t> rows;
  for (const nlohmann::json& w : wanted) {
    if (w.is_number_integer()) {
      int64_t row = w.get<int64_t>();
      EMBER_CHECK(row >= 0 && row < file_classes, "config", "model.head_from_classes: class ", row,
                  " is not in the weights' ", file_classes, "-class head");
      rows.push_back(row);
      continue;
    }
    EMBER_CHECK(w.is_string(), "config", "model.head_from_classes: ", w.dump(), " is neither a class index nor a name");
    if (names.empty()) names = weights_class_names(c);
    EMBER_CHECK(static_cast<int64_t>(names.size()) == file_classes, "config", "model.head_from_classes: ",
                names.size(), " class names for the weights' ", file_classes, "-class head");
    const std::string name = w.get<std::string>();
    std::vector<int64_t> matches;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) matches.push_back(static_cast<int64_t>(i));
    }
    if (matches.empty()) {
      std::string hint = closest_name(name, names, 3);
      fail("config", "model.head_from_classes: no class named '", name, "' in the weights' class names",
           hint.empty() ? "" : " (did you mean '" + hint + "'?)");
    }
    if (matches.size() > 1) {
      std::ostringstream list;
      for (int64_t m : matches) list << ' ' << m;
      fail("config", "model.head_from_classes: '", name, "' names several classes (", list.str(),
           " ); give the index instead");
    }
    rows.push_back(matches[0]);
  }
  return rows;
}

// Starts `head` from rows of the pretrained classifier (weight, bias). With one
// output (binary cross-entropy over two classes) the logit is the second row's
// minus the first's, so that sigmoid(logit) is the pretrained two-class softmax.
void start_head_from_rows(Linear& head, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& rows) {
  NoGradGuard no_grad;
  auto bias_row = [&](int64_t r) { return bias.defined() ? bias.select(0, r) : zeros({}); };
  if (head.out_features == 1) {
    head.weight.select(0, 0).copy_(sub(weight.select(0, rows[1]), weight.select(0, rows[0])));
    head.bias.select(0, 0).copy_(sub(bias_row(rows[1]), bias_row(rows[0])));
    return;
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    head.weight.select(0, static_cast<int64_t>(i)).copy_(weight.select(0, rows[i]));
    head.bias.select(0, static_cast<int64_t>(i)).copy_(bias_row(rows[i]));
  }
}

}  // namespace

int64_t head_classes(const NamedTensors& entries, const std::string& head) {
  int64_t classes = 0;
  for (const auto& [name, t] : entries) {
    if (name_has_prefix(name, head) && ends_with(name, ".weight") && t.dim() == 2) classes = t.size(0);
  }
  return classes;
}

std::vector<std::string> read_class_names(const std::string& path, const char* who) {
  std::ifstream f(path);
  EMBER_CHECK(f.good(), who, "cannot read class names from ", path);
  std::vector<std::string> names;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // a file written on Windows
    if (!line.empty()) names.push_back(line);
  }
  EMBER_CHECK(!names.empty(), who, path, " holds no class names");
  return names;
}

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
  const bool head_from_classes = !c.get("model.head_from_classes").empty();
  EMBER_CHECK(!head_from_classes || (new_head && c.is_set("model.weights")), "config",
              "model.head_from_classes starts a new head from the pretrained one: it needs model.weights and "
              "model.new_head: true");
  std::vector<int64_t> rows;  // of the pretrained head, for head_from_classes
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
    if (head_from_classes) {
      EMBER_CHECK(file_classes > 0, "weights", path, " has no classifier under '", entry.head,
                  "' for model.head_from_classes to start from");
      rows = source_rows(c, file_classes, c.str("loss.name") == "bce_with_logits" ? 2 : want);
    }
  } else {
    s.model = create_model(name, want);
  }
  if (new_head) {
    Linear* old_head = head_linear(*s.model, entry.head);
    Tensor old_weight = old_head ? old_head->weight : Tensor(), old_bias = old_head ? old_head->bias : Tensor();
    replace_head(*s.model, entry.head, want, c.f64("model.head_dropout"));
    log << "new head: Dropout(" << c.f64("model.head_dropout") << ") + Linear(" << want << ") as '" << entry.head
        << "'";
    if (!rows.empty()) {
      start_head_from_rows(*head_linear(*s.model, entry.head), old_weight, old_bias, rows);
      log << ", starting from the pretrained classes";
      for (int64_t r : rows) log << ' ' << r;
    }
    log << '\n';
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
