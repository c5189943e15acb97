// Augmentation pipelines from configuration (JSON, or YAML converted to
// JSON), shared by `ember augment` and the trainer.
//
// A pipeline is a list of op objects whose names and parameter names follow
// Albumentations 1.x, so pipelines port from Python:
//
//   [{"op": "Resize", "height": 256, "width": 256},
//    {"op": "HorizontalFlip", "p": 0.5},
//    {"op": "OneOf", "p": 0.5, "ops": [{"op": "MotionBlur", "blur_limit": 7},
//                                      {"op": "GaussNoise", "var_limit": [10, 50]}]},
//    {"op": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
//    {"op": "ToTensor"}]
//
// Every op takes "p" (its probability; defaults as in Albumentations).
// Ranges are [low, high] or one number x meaning Albumentations' to_tuple:
// [-x, x] for angles/shifts/hue, [max(0, 1-x), 1+x] for ColorJitter's
// brightness/contrast/saturation, [1-x, 1+x] for scale_limit, [0, x] for
// var_limit, [3, x] for blur_limit. Interpolation and border modes are
// OpenCV's integers or names ("nearest", "linear", "area"; "constant",
// "replicate"/"edge", "symmetric" (cv2 REFLECT), "wrap", "reflect"/"reflect_101"
// (torchvision's "reflect" is cv2's REFLECT_101)).
// Ops and their parameters are listed in data/README.md. An unknown op or
// parameter is an error naming the op, the parameter and the file.
//
// A config file may hold the bare list, {"train": [...], "val": [...]}, or
// a trainer config {"augment": {"train": [...], "val": [...]}}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "data/augment/transform.h"

namespace ember {

// `source` names the file (or "<config>") in error messages.
Pipeline parse_pipeline(const nlohmann::json& ops, const std::string& source = "<config>");
TransformPtr parse_op(const nlohmann::json& op, const std::string& source = "<config>");

// Reads JSON (.json) or YAML (.yaml / .yml) into JSON.
nlohmann::json read_config_file(const std::string& path);
// YAML text (a flow list such as "[ant, bee]" too) into JSON; `source` names it in errors.
nlohmann::json parse_yaml_text(const std::string& text, const std::string& source);
// The pipeline named `split` ("train" or "val") from a config file of any
// of the three shapes above.
Pipeline load_pipeline(const std::string& path, const std::string& split = "train");

}  // namespace ember
