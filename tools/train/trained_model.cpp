#include "tools/train/trained_model.h"

#include <filesystem>

#include "data/pipeline_config.h"
#include "engine/error.h"
#include "models/registry.h"
#include "tools/train/data_setup.h"
#include "tools/train/model_setup.h"
#include "tools/train/train_config.h"
#include "weights/checkpoint.h"

namespace ember {

using json = nlohmann::json;

Pipeline resize_crop_pipeline(int64_t resize, int64_t crop, const std::vector<double>& mean,
                              const std::vector<double>& std) {
  json ops = json::array();
  if (resize > 0) ops.push_back({{"op", "SmallestMaxSize"}, {"max_size", resize}});
  if (crop > 0) ops.push_back({{"op", "CenterCrop"}, {"height", crop}, {"width", crop}});
  ops.push_back({{"op", "Normalize"}, {"mean", mean}, {"std", std}});
  ops.push_back({{"op", "ToTensor"}});
  return parse_pipeline(ops, "<preprocessing>");
}

TrainedModel load_from_checkpoint(const std::string& path, Device device) {
  Checkpoint ck = load_checkpoint(path);
  const json& extra = ck.meta.value("extra", json::object());
  EMBER_CHECK(extra.contains("model") && extra.contains("config"), "checkpoint", path,
              ": not written by `ember train` (no model name or config inside); use --model and --weights");
  TrainedModel t;
  t.name = extra["model"].get<std::string>();
  t.class_names = extra.value("class_names", std::vector<std::string>{});
  TrainConfig config;
  config.merge(extra["config"], path);
  int64_t classes = extra.value("num_classes", int64_t{0});
  bool bce = config.str("loss.name") == "bce_with_logits";
  t.model = create_model(t.name, bce ? 1 : classes);
  if (extra.value("new_head", false)) {
    replace_head(*t.model, extra.value("head", model_entry(t.name).head), bce ? 1 : classes,
                 extra.value("head_dropout", 0.5));
  }
  restore_checkpoint(ck, *t.model, nullptr, nullptr, path);
  t.model->to(device);
  t.model->eval();
  const ModelEntry& entry = model_entry(t.name);
  int64_t size = config.i64("data.image_size") > 0 ? config.i64("data.image_size") : entry.default_size;
  std::vector<double> mean = config.get("data.mean").get<std::vector<double>>();
  std::vector<double> std = config.get("data.std").get<std::vector<double>>();
  if (config.flag("data.grayscale") && mean.size() == 3) mean = std = {0.5};
  t.pipeline = config.is_set("augment.val") ? parse_pipeline(config.get("augment.val"), path + ": augment.val")
                                             : default_pipeline(size, mean, std);
  t.description = t.name + " from " + path + " (epoch " + std::to_string(ck.info().epoch) + ")";
  return t;
}

TrainedModel load_from_weights(const std::string& model_name, const std::string& weights, const std::string& manifest_in,
                               const PreprocessOverrides& o, Device device) {
  TrainedModel t;
  t.name = model_name;
  json manifest = json::object();
  std::string manifest_path = manifest_in;
  if (manifest_path.empty()) {
    std::string beside = std::filesystem::path(weights).replace_extension(".json").string();
    if (std::filesystem::exists(beside)) manifest_path = beside;
  }
  if (!manifest_path.empty()) manifest = read_config_file(manifest_path);
  NamedTensors entries = read_weights_file(weights);
  const ModelEntry& entry = model_entry(model_name);
  int64_t classes = head_classes(entries, entry.head);
  EMBER_CHECK(classes > 0, "weights", weights, ": no classifier weight under '", entry.head, "' for ", model_name);
  t.model = create_model(model_name, classes);
  LoadReport r = t.model->load_state_dict(entries, false);
  std::vector<std::string> missing;
  for (const std::string& m : r.missing) {
    if (m.find("num_batches_tracked") == std::string::npos) missing.push_back(m);
  }
  if (!missing.empty() || !r.mismatched.empty()) {
    r.missing = missing;
    fail("weights", weights, " does not fit ", model_name, ":\n", r.str());
  }
  t.model->to(device);
  t.model->eval();
  const json pre = manifest.value("preprocessing", json::object());
  int64_t resize = o.resize > 0 ? o.resize : pre.value("resize", int64_t{256});
  int64_t crop = o.crop > 0 ? o.crop : pre.value("crop", int64_t{224});
  std::vector<double> mean = !o.mean.empty() ? o.mean : pre.value("mean", std::vector<double>{0.485, 0.456, 0.406});
  std::vector<double> std = !o.std.empty() ? o.std : pre.value("std", std::vector<double>{0.229, 0.224, 0.225});
  t.pipeline = resize_crop_pipeline(resize, crop, mean, std);
  if (!o.classes_file.empty()) {
    t.class_names = read_class_names(o.classes_file, "predict");
  } else if (manifest.contains("class_names") && manifest["class_names"].is_array()) {
    t.class_names = manifest["class_names"].get<std::vector<std::string>>();
  }
  EMBER_CHECK(t.class_names.empty() || static_cast<int64_t>(t.class_names.size()) == classes, "predict",
              t.class_names.size(), " class names for a ", classes, "-class model");
  t.description = model_name + " with " + weights;
  return t;
}

}  // namespace ember
