// Turns the data and augment sections of a training config into datasets
// and pipelines: the training, validation and test datasets (validation
// split off by ratio and seed when no folder is given), class names, class
// counts and the augmentation pipelines (defaults: resize, normalise, to tensor).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/augment/transform.h"
#include "data/dataset.h"
#include "tools/train/train_config.h"

namespace ember {

struct TrainData {
  DatasetPtr train, val, test;  // val and test may be null
  Pipeline train_pipeline, eval_pipeline;
  std::vector<std::string> class_names;
  int64_t num_classes = 0;
  std::vector<int64_t> train_counts;  // examples per class in `train`
};

// A dataset from a data spec: a folder path (a class per subfolder), a .csv
// list, or an object {type: image_folder|folders|csv|idx|cifar|fashion_mnist, ...}.
// `what` names the config key in errors.
DatasetPtr make_dataset(const nlohmann::json& spec, const std::string& what, bool grayscale);

// image_size: the side the default pipelines resize to (0: keep the size).
TrainData build_train_data(const TrainConfig& config, int64_t image_size);

// The default pipeline: Resize(size) (unless size is 0), Normalize(mean, std), ToTensor.
Pipeline default_pipeline(int64_t size, const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace ember
