// A model ready for evaluation or prediction, with its class names and the
// preprocessing it expects, loaded either from an `ember train` checkpoint
// (everything is inside it) or from a registry name plus a weights file and
// its manifest (weights/convert_torchvision.py writes one beside the .npz).
#pragma once

#include <string>
#include <vector>

#include "data/augment/transform.h"
#include "layers/module.h"

namespace ember {

struct TrainedModel {
  ModulePtr model;
  std::string name;
  std::vector<std::string> class_names;
  Pipeline pipeline;  // decode-to-tensor preprocessing for one image
  std::string description;
};

TrainedModel load_from_checkpoint(const std::string& checkpoint, Device device);

// manifest: a JSON path; empty: the .json beside `weights` if it exists.
// Preprocessing flags override the manifest (resize <= 0, empty mean: keep).
struct PreprocessOverrides {
  int64_t resize = 0, crop = 0;
  std::vector<double> mean, std;
  std::string classes_file;  // one class name per line
};
TrainedModel load_from_weights(const std::string& model_name, const std::string& weights, const std::string& manifest,
                               const PreprocessOverrides& overrides, Device device);

// torchvision's eval preprocessing: resize the shorter side, centre crop, normalise, to tensor.
Pipeline resize_crop_pipeline(int64_t resize, int64_t crop, const std::vector<double>& mean,
                              const std::vector<double>& std);

}  // namespace ember
