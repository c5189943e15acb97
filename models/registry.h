// Models by name, as torchvision's constructors: create_model("resnet50", 10).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "layers/linear.h"
#include "layers/module.h"

namespace ember {

struct ModelEntry {
  std::string name;    // "resnet50"
  std::string family;  // "resnet"
  std::string head;    // the classifier's child name: "fc" or "classifier"
  int64_t default_size = 224;  // the input side the model was designed for
  std::function<ModulePtr(int64_t num_classes)> make;
};

// Every registered model, in a stable order.
const std::vector<ModelEntry>& model_registry();
// The entry for `name`; throws listing the known names when there is none.
const ModelEntry& model_entry(const std::string& name);
ModulePtr create_model(const std::string& name, int64_t num_classes = 1000);
std::vector<std::string> model_names();

// The last Linear inside the model's `head` child (torchvision's heads end
// in one: fc, or classifier's Dropout + Linear); null when there is none.
Linear* head_linear(Module& model, const std::string& head);

// Replaces the classifier head (the model's `head` child) with
// Sequential(Dropout(p), Linear(in_features, num_classes)), as the source
// documents do (`model.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(...))`);
// in_features is that of the head's last Linear. p = 0 gives a plain Linear.
// Returns the head's name.
std::string replace_head(Module& model, const std::string& head, int64_t num_classes, double dropout = 0.5);

}  // namespace ember
