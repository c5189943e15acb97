#include "tools/train/data_setup.h"

#include <filesystem>

#include "data/datasets/file_datasets.h"
#include "data/datasets/memory_datasets.h"
#include "data/pipeline_config.h"
#include "engine/error.h"

namespace ember {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string required_string(const json& spec, const char* key, const std::string& what) {
  EMBER_CHECK(spec.contains(key) && spec[key].is_string(), "config", what, " needs a \"", key, "\" string, got ",
              spec.dump());
  return spec[key].get<std::string>();
}

FileDatasetOptions file_options(bool grayscale) {
  FileDatasetOptions o;
  o.decode.channels = grayscale ? 1 : 3;
  return o;
}

}  // namespace

DatasetPtr make_dataset(const json& spec, const std::string& what, bool grayscale) {
  if (spec.is_string()) {
    std::string path = spec.get<std::string>();
    EMBER_CHECK(fs::exists(path), "config", what, ": ", path, " does not exist");
    if (fs::is_directory(path)) return std::make_shared<ImageFolder>(path, file_options(grayscale));
    if (fs::path(path).extension() == ".csv") return std::make_shared<CsvImageList>(path, file_options(grayscale));
    fail("config", what, ": ", path, " is neither a folder (a class per subfolder) nor a .csv list");
  }
  EMBER_CHECK(spec.is_object(), "config", what, " must be a folder path or an object with a \"type\", got ",
              spec.dump());
  std::string type = required_string(spec, "type", what);
  if (type == "image_folder") {
    std::string root = required_string(spec, "root", what);
    EMBER_CHECK(fs::is_directory(root), "config", what, ": folder ", root, " does not exist");
    return std::make_shared<ImageFolder>(root, file_options(grayscale));
  }
  if (type == "folders") {
    // The source documents' summer=0 / winter=1: each folder with a fixed label, concatenated.
    EMBER_CHECK(spec.contains("folders") && spec["folders"].is_array() && !spec["folders"].empty(), "config", what,
                ": type folders needs \"folders\": [{\"path\": ..., \"label\": 0}, ...]");
    std::vector<DatasetPtr> parts;
    std::vector<std::string> names;
    for (const json& f : spec["folders"]) {
      std::string path = required_string(f, "path", what);
      EMBER_CHECK(f.contains("label") && f["label"].is_number_integer(), "config", what, ": folder ", path,
                  " needs an integer \"label\"");
      EMBER_CHECK(fs::is_directory(path), "config", what, ": folder ", path, " does not exist");
      parts.push_back(std::make_shared<FixedLabelFolder>(path, f["label"].get<int64_t>(), file_options(grayscale)));
    }
    return std::make_shared<ConcatDataset>(parts);
  }
  if (type == "csv") {
    return std::make_shared<CsvImageList>(required_string(spec, "path", what), file_options(grayscale),
                                          spec.value("root", std::string()));
  }
  if (type == "idx") {
    return std::make_shared<IdxDataset>(required_string(spec, "images", what), required_string(spec, "labels", what));
  }
  if (type == "fashion_mnist") {
    std::string root = spec.value("root", std::string("/usr/share/datasets/fashion-mnist"));
    std::string split = spec.value("split", std::string("train"));
    EMBER_CHECK(split == "train" || split == "test", "config", what, ": fashion_mnist split must be train or test");
    std::string prefix = root + "/" + (split == "train" ? "train" : "t10k");
    EMBER_CHECK(fs::exists(prefix + "-images-idx3-ubyte.gz"), "config", what, ": ", prefix,
                "-images-idx3-ubyte.gz is missing (install Debian's dataset-fashion-mnist, or set \"root\")");
    return std::make_shared<IdxDataset>(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz",
                                        std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"});
  }
  if (type == "cifar") {
    EMBER_CHECK(spec.contains("files") && spec["files"].is_array(), "config", what,
                ": type cifar needs \"files\": [\"data_batch_1.bin\", ...]");
    return std::make_shared<CifarDataset>(spec["files"].get<std::vector<std::string>>(), spec.value("classes", 10));
  }
  fail("config", what, ": unknown data type '", type, "' (image_folder, folders, csv, idx, fashion_mnist, cifar)");
}

Pipeline default_pipeline(int64_t size, const std::vector<double>& mean, const std::vector<double>& std) {
  json ops = json::array();
  if (size > 0) ops.push_back({{"op", "Resize"}, {"height", size}, {"width", size}});
  ops.push_back({{"op", "Normalize"}, {"mean", mean}, {"std", std}});
  ops.push_back({{"op", "ToTensor"}});
  return parse_pipeline(ops, "<default pipeline>");
}

TrainData build_train_data(const TrainConfig& c, int64_t image_size) {
  TrainData d;
  EMBER_CHECK(c.is_set("data.train"), "config", "data.train is not set: give a folder with a subfolder per class, "
              "or an object such as {\"type\": \"fashion_mnist\"}");
  bool grey = c.flag("data.grayscale");
  DatasetPtr full = make_dataset(c.get("data.train"), "data.train", grey);
  EMBER_CHECK(full->size() > 0, "data", "the training data (data.train) has no examples");
  if (c.is_set("data.val")) {
    d.train = full;
    d.val = make_dataset(c.get("data.val"), "data.val", grey);
  } else if (c.f64("data.val_split") > 0) {
    double ratio = c.f64("data.val_split");
    EMBER_CHECK(ratio < 1.0, "config", "data.val_split must be below 1, got ", ratio);
    std::tie(d.train, d.val) = train_val_split(full, ratio, static_cast<uint64_t>(c.i64("data.split_seed")));
  } else {
    d.train = full;
  }
  if (c.is_set("data.test")) d.test = make_dataset(c.get("data.test"), "data.test", grey);

  d.class_names = full->class_names();
  d.train_counts = class_counts(*d.train);
  int64_t labels = static_cast<int64_t>(class_counts(*full).size());
  d.num_classes = std::max<int64_t>(labels, static_cast<int64_t>(d.class_names.size()));
  if (d.class_names.empty()) {
    for (int64_t k = 0; k < d.num_classes; ++k) d.class_names.push_back(std::to_string(k));
  }
  for (size_t k = 0; k < d.train_counts.size(); ++k) {
    if (d.train_counts[k] == 0) {
      std::fprintf(stderr, "warning: class %zu (%s) has no training examples\n", k,
                   k < d.class_names.size() ? d.class_names[k].c_str() : "?");
    }
  }

  std::vector<double> mean = c.get("data.mean").get<std::vector<double>>();
  std::vector<double> std = c.get("data.std").get<std::vector<double>>();
  if (grey && mean.size() == 3) {  // the ImageNet defaults make no sense for one channel
    mean = {0.5};
    std = {0.5};
  }
  d.train_pipeline = c.is_set("augment.train") ? parse_pipeline(c.get("augment.train"), "augment.train")
                                                : default_pipeline(image_size, mean, std);
  d.eval_pipeline = c.is_set("augment.val") ? parse_pipeline(c.get("augment.val"), "augment.val")
                                             : default_pipeline(image_size, mean, std);
  return d;
}

}  // namespace ember
