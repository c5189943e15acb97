// Builds the model of a training (or evaluation) run: the registry model,
// pretrained weights, a new classifier head, and which parameters train.
#pragma once

#include <string>
#include <vector>

#include "layers/module.h"
#include "tools/train/train_config.h"

namespace ember {

struct ModelSetup {
  ModulePtr model;
  std::string head;                       // the classifier's child name ("fc")
  std::vector<ModulePtr> frozen_batchnorms;  // BN layers to keep in eval mode while training
  std::string report;                     // what was loaded and frozen, for the log
};

// Reads weights for `model` from a .npz (state_dict names; "module." prefixes
// stripped) or an .onnx file (initializers mapped by name). Returns the entries.
NamedTensors read_weights_file(const std::string& path);

// Classes of the classifier in weights `entries`: the rows of the last 2-D
// weight under `head` ("classifier"); 0 when there is none.
int64_t head_classes(const NamedTensors& entries, const std::string& head);

// Class names from a text file, one per line (blank lines skipped); errors
// name `who` and the file.
std::vector<std::string> read_class_names(const std::string& path, const char* who);

// The model for `num_classes` classes as the config asks: weights loaded
// (a file whose head has another class count needs model.new_head), head
// replaced (and started from rows of the old one when model.head_from_classes
// names them), freezing applied.
ModelSetup build_model(const TrainConfig& config, int64_t num_classes);

// Applies the freeze section: mode none|all|backbone, unfreeze prefixes,
// from_layer (Keras-style index over parameterised layers). Returns a summary.
std::string apply_freezing(Module& model, const std::string& head, const TrainConfig& config);

// Puts the BN layers whose parameters are all frozen in eval mode (call after model.train()).
void keep_frozen_batchnorms_in_eval(const std::vector<ModulePtr>& frozen);

}  // namespace ember
