#include "tools/train/train_config.h"

#include <algorithm>
#include <sstream>

#include "data/pipeline_config.h"
#include "engine/error.h"
#include "tools/lib/edit_distance.h"

namespace ember {

using json = nlohmann::json;

const std::vector<ConfigOption>& train_config_schema() {
  static const std::vector<ConfigOption> schema = {
      // --- What to train ---
      {"task", "string", "classify", "classify, or simclr (contrastive pre-training, then the classifier)"},
      {"model.name", "string", "resnet18", "model from the registry (`ember models` lists them)"},
      {"model.num_classes", "int", 0, "number of classes; 0: as many as the training data has"},
      {"model.weights", "string", "", "pretrained weights: .npz (weights/convert_torchvision.py) or .onnx"},
      {"model.new_head", "bool", false, "replace the classifier with Dropout(head_dropout) + Linear(num_classes)"},
      {"model.head_dropout", "float", 0.5, "dropout before the new head's Linear (0: none)"},
      {"model.head_from_classes", "list", json::array(),
       "start the new head from these classes of the pretrained head, one per data class in the data's order "
       "(indices, or names: [ant, bee] for ImageNet weights); empty: a random head"},
      {"model.class_names", "string", "",
       "the weights' class names, one per line, for head_from_classes by name; empty: the manifest beside the weights"},
      // --- Freezing ---
      {"freeze.mode", "string", "none",
       "none: train everything; all: freeze every parameter; backbone: freeze all but the classifier head"},
      {"freeze.unfreeze", "list", json::array(), "name prefixes trained even when frozen, e.g. [\"layer3\", \"layer4\"]"},
      {"freeze.from_layer", "int", -1,
       "Keras style: train only from the N-th parameterised layer on (counting from 0); -1: off"},
      {"freeze.bn_eval", "bool", true, "keep batch-norm layers whose parameters are all frozen in eval mode"},
      // --- Data ---
      {"data.train", "any", "",
       "training data: a folder (a class per subfolder), or {type: image_folder|folders|csv|idx|cifar, ...}"},
      {"data.val", "any", "", "validation data (same forms); empty: split it from the training data"},
      {"data.val_split", "float", 0.0, "fraction of the training data held out for validation when data.val is empty"},
      {"data.split_seed", "int", 42, "seed of the random train/validation split"},
      {"data.test", "any", "", "test data evaluated after training (same forms)"},
      {"data.batch_size", "int", 32, "batch size"},
      {"data.workers", "int", 2, "loader threads (0: load on the training thread)"},
      {"data.image_size", "int", 0, "side the default pipelines resize to; 0: the model's native input size"},
      {"data.mean", "list", json::array({0.485, 0.456, 0.406}), "normalisation mean of the default pipelines"},
      {"data.std", "list", json::array({0.229, 0.224, 0.225}), "normalisation std of the default pipelines"},
      {"data.grayscale", "bool", false, "images are single-channel (MNIST-like); the default pipelines keep one channel"},
      {"data.on_bad_image", "string", "error", "error: stop at an unreadable image; skip: leave it out with a warning"},
      {"data.drop_last", "bool", false, "drop the last incomplete training batch"},
      {"augment.train", "list", json::array(),
       "training augmentation pipeline (Albumentations-style op list); empty: resize, normalise, to tensor"},
      {"augment.val", "list", json::array(), "evaluation pipeline; empty: resize, normalise, to tensor"},
      // --- Optimisation ---
      {"optimizer.name", "string", "adam", "sgd, adam, adamw or rmsprop"},
      {"optimizer.lr", "float", 1e-3, "base learning rate (for parameters outside optimizer.groups)"},
      {"optimizer.weight_decay", "float", 0.0, "weight decay (L2 for sgd/adam/rmsprop, decoupled for adamw)"},
      {"optimizer.momentum", "float", 0.9, "sgd/rmsprop momentum"},
      {"optimizer.nesterov", "bool", false, "sgd: Nesterov momentum"},
      {"optimizer.betas", "list", json::array({0.9, 0.999}), "adam/adamw betas"},
      {"optimizer.eps", "float", 1e-8, "adam/adamw/rmsprop epsilon"},
      {"optimizer.groups", "object", json::object(),
       "per-prefix learning rates: {\"layer3\": 5e-5, \"fc\": {\"lr\": 1e-3, \"weight_decay\": 0}}"},
      {"scheduler.name", "string", "none", "none, step, multistep, cosine, plateau or onecycle"},
      {"scheduler.step_size", "int", 3, "step: epochs between decays"},
      {"scheduler.gamma", "float", 0.1, "step/multistep: decay factor"},
      {"scheduler.milestones", "list", json::array(), "multistep: epochs at which to decay"},
      {"scheduler.t_max", "int", 0, "cosine: length in epochs; 0: the number of epochs"},
      {"scheduler.eta_min", "float", 0.0, "cosine: final learning rate"},
      {"scheduler.warmup_epochs", "int", 0, "cosine: epochs of linear warm-up from lr/3"},
      {"scheduler.factor", "float", 0.1, "plateau: decay factor"},
      {"scheduler.patience", "int", 10, "plateau: epochs without improvement before decaying"},
      {"scheduler.mode", "string", "min", "plateau: min (the metric should fall) or max"},
      {"scheduler.monitor", "string", "val_loss", "plateau: val_loss, val_accuracy, train_loss or train_accuracy"},
      {"scheduler.max_lr", "float", 0.0, "onecycle: peak learning rate; 0: optimizer.lr"},
      {"scheduler.pct_start", "float", 0.3, "onecycle: fraction of the steps spent rising"},
      {"loss.name", "string", "cross_entropy", "cross_entropy, or bce_with_logits (one sigmoid output, 2 classes)"},
      {"loss.label_smoothing", "float", 0.0, "cross entropy label smoothing"},
      {"loss.class_weights", "any", json::array(), "cross entropy class weights: a list, or \"balanced\" from the class counts"},
      // --- The run ---
      {"train.epochs", "int", 10, "training epochs"},
      {"train.device", "string", "cpu", "cpu, cuda or cuda:N"},
      {"train.seed", "int", 0, "seed for initialisation, shuffling, augmentation and dropout"},
      {"train.deterministic", "bool", false, "prefer deterministic algorithms (GPU) at some speed cost"},
      {"train.precision", "string", "float32",
       "float32, or float16 / bfloat16 mixed precision (autocast, float32 master weights; float16 adds loss scaling)"},
      {"train.grad_clip", "float", 0.0, "clip the global gradient norm to this value; 0: off"},
      {"train.cuda_graphs", "bool", false,
       "CUDA: replay each full batch's forward and backward as a CUDA graph (the optimizer step stays eager)"},
      {"train.early_stopping.metric", "string", "val_loss", "metric watched for early stopping"},
      {"train.early_stopping.mode", "string", "min", "min or max: which direction is better"},
      {"train.early_stopping.patience", "int", 0, "epochs without improvement before stopping; 0: off"},
      {"train.checkpoint_metric", "string", "val_accuracy", "metric that picks best.ckpt"},
      {"train.checkpoint_mode", "string", "max", "min or max: which direction is better"},
      {"train.resume", "string", "", "a checkpoint to resume from (last.ckpt of an earlier run)"},
      {"train.log_every", "int", 10, "steps between per-step TensorBoard scalars"},
      {"output.dir", "string", "runs", "folder that holds the run folders"},
      {"output.name", "string", "", "run folder name; empty: <model>-<date>-<time>"},
      // --- SimCLR ---
      {"simclr.epochs", "int", 10, "contrastive pre-training epochs before the classifier epochs"},
      {"simclr.temperature", "float", 0.5, "NT-Xent temperature"},
      {"simclr.projection_dim", "int", 128, "output size of the projection head"},
      {"simclr.augment", "list", json::array(),
       "view augmentation; empty: random resized crop, flips, rotation, colour jitter, cutout"},
      {"simclr.then", "string", "linear_probe", "after pre-training: linear_probe (frozen encoder), finetune, or none"},
  };
  return schema;
}

namespace {

const ConfigOption* find_option(const std::string& key) {
  for (const ConfigOption& o : train_config_schema()) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

std::string suggestion(const std::string& key) {
  std::string best;
  size_t best_d = 1000;
  for (const ConfigOption& o : train_config_schema()) {
    // Compare with the whole key and with its last component.
    std::string tail = o.key.substr(o.key.rfind('.') + 1);
    size_t d = std::min(edit_distance(key, o.key), edit_distance(key, tail) + 1);
    if (d < best_d) {
      best_d = d;
      best = o.key;
    }
  }
  return best_d <= std::max<size_t>(3, key.size() / 3) ? " (did you mean '" + best + "'?)" : "";
}

// Checks `value` against the option's type; ints are accepted as floats.
void check_type(const ConfigOption& o, json& value, const std::string& source) {
  const std::string& t = o.type;
  bool ok = t == "any" || (t == "string" && value.is_string()) || (t == "int" && value.is_number_integer()) ||
            (t == "float" && value.is_number()) || (t == "bool" && value.is_boolean()) ||
            (t == "list" && value.is_array()) || (t == "object" && value.is_object());
  if (!ok && t == "float" && value.is_string()) {  // "1e-3" written as a string in YAML
    try {
      value = std::stod(value.get<std::string>());
      ok = true;
    } catch (const std::exception&) {
    }
  }
  EMBER_CHECK(ok, "config", source, ": ", o.key, " must be ", t == "int" ? "an integer" : t == "list" ? "a list" : "a " + t,
              ", got ", value.dump());
}

}  // namespace

TrainConfig::TrainConfig() {
  for (const ConfigOption& o : train_config_schema()) values_[o.key] = o.fallback;
}

void TrainConfig::set(const std::string& key, const json& value, const std::string& source) {
  const ConfigOption* o = find_option(key);
  if (!o) fail("config", source, ": unknown option '", key, "'", suggestion(key));
  json v = value;
  check_type(*o, v, source);
  values_[key] = v;
}

void TrainConfig::merge(const json& j, const std::string& source) {
  EMBER_CHECK(j.is_object(), "config", source, ": expected an object of sections (model, data, ...) at the top");
  std::function<void(const json&, const std::string&)> walk = [&](const json& node, const std::string& prefix) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (find_option(key)) {
        set(key, it.value(), source);
      } else if (it.value().is_object()) {
        // A section: descend, unless nothing in the schema lives below it.
        bool section = false;
        for (const ConfigOption& o : train_config_schema()) section = section || o.key.rfind(key + ".", 0) == 0;
        if (!section) fail("config", source, ": unknown section '", key, "'", suggestion(key));
        walk(it.value(), key);
      } else {
        fail("config", source, ": unknown option '", key, "'", suggestion(key));
      }
    }
  };
  walk(j, "");
}

void TrainConfig::set(const std::string& assignment) {
  size_t eq = assignment.find('=');
  EMBER_CHECK(eq != std::string::npos && eq > 0, "config", "--set expects key=value, got '", assignment, "'");
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const std::exception&) {
    // YAML's flow style, as in the config files: [layer3, layer4], {fc: 1e-3}.
    if (text.starts_with('[') || text.starts_with('{')) value = parse_yaml_text(text, "--set " + assignment);
    else value = text;  // a bare word: a string
  }
  const ConfigOption* o = find_option(key);
  if (o && o->type == "string" && !value.is_string()) value = text;
  set(key, value, "--set " + assignment);
}

const json& TrainConfig::get(const std::string& key) const {
  auto it = values_.find(key);
  EMBER_CHECK(it != values_.end(), "config", "internal: no option '", key, "'");
  return *it;
}

std::string TrainConfig::str(const std::string& key) const { return get(key).get<std::string>(); }
int64_t TrainConfig::i64(const std::string& key) const { return get(key).get<int64_t>(); }
double TrainConfig::f64(const std::string& key) const { return get(key).get<double>(); }
bool TrainConfig::flag(const std::string& key) const { return get(key).get<bool>(); }

bool TrainConfig::is_set(const std::string& key) const {
  const json& v = get(key);
  return !(v.is_null() || (v.is_string() && v.get<std::string>().empty()) || (v.is_array() && v.empty()));
}

json TrainConfig::to_json() const {
  json out = json::object();
  for (const ConfigOption& o : train_config_schema()) {
    json* node = &out;
    std::string key = o.key;
    size_t pos;
    while ((pos = key.find('.')) != std::string::npos) {
      node = &(*node)[key.substr(0, pos)];
      key = key.substr(pos + 1);
    }
    (*node)[key] = values_.at(o.key);
  }
  return out;
}

std::string train_config_reference() {
  std::ostringstream s;
  s << "ember train configuration (JSON or YAML; nested sections, or --set key=value):\n\n";
  std::string section;
  for (const ConfigOption& o : train_config_schema()) {
    std::string head = o.key.substr(0, o.key.find('.'));
    if (head != section) {
      section = head;
      s << '\n';
    }
    std::string def = o.fallback.dump();
    char buf[96];
    std::snprintf(buf, sizeof buf, "  %-32s %-8s default %s\n", o.key.c_str(), o.type.c_str(), def.c_str());
    s << buf << "      " << o.help << '\n';
  }
  return s.str();
}

}  // namespace ember
