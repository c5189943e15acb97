#include "models/registry.h"

#include "engine/error.h"
#include "layers/layers.h"
#include "models/cifar_resnet.h"
#include "models/densenet.h"
#include "models/efficientnet.h"
#include "models/efficientnet_lite.h"
#include "models/mobilenet_v1.h"
#include "models/mobilenet_v2.h"
#include "models/mobilenet_v3.h"
#include "models/resnet.h"
#include "models/small_cnn.h"

namespace ember {
namespace {

template <class M, class... Args>
std::function<ModulePtr(int64_t)> maker(Args... args) {
  return [=](int64_t num_classes) -> ModulePtr { return std::make_shared<M>(args..., num_classes); };
}

std::vector<ModelEntry> build_registry() {
  std::vector<ModelEntry> r;
  r.push_back({"resnet18", "resnet", "fc", 224, maker<ResNet>(std::vector<int64_t>{2, 2, 2, 2}, false)});
  r.push_back({"resnet34", "resnet", "fc", 224, maker<ResNet>(std::vector<int64_t>{3, 4, 6, 3}, false)});
  r.push_back({"resnet50", "resnet", "fc", 224, maker<ResNet>(std::vector<int64_t>{3, 4, 6, 3}, true)});
  r.push_back({"resnet101", "resnet", "fc", 224, maker<ResNet>(std::vector<int64_t>{3, 4, 23, 3}, true)});
  r.push_back({"resnet152", "resnet", "fc", 224, maker<ResNet>(std::vector<int64_t>{3, 8, 36, 3}, true)});
  r.push_back({"densenet121", "densenet", "classifier", 224,
               maker<DenseNet>(int64_t{32}, std::vector<int64_t>{6, 12, 24, 16}, int64_t{64}, int64_t{4}, 0.0)});
  r.push_back({"densenet161", "densenet", "classifier", 224,
               maker<DenseNet>(int64_t{48}, std::vector<int64_t>{6, 12, 36, 24}, int64_t{96}, int64_t{4}, 0.0)});
  r.push_back({"densenet169", "densenet", "classifier", 224,
               maker<DenseNet>(int64_t{32}, std::vector<int64_t>{6, 12, 32, 32}, int64_t{64}, int64_t{4}, 0.0)});
  r.push_back({"densenet201", "densenet", "classifier", 224,
               maker<DenseNet>(int64_t{32}, std::vector<int64_t>{6, 12, 48, 32}, int64_t{64}, int64_t{4}, 0.0)});
  r.push_back({"mobilenet_v1", "mobilenet", "classifier", 224, maker<MobileNetV1>()});
  r.push_back({"mobilenet_v2", "mobilenet", "classifier", 224, maker<MobileNetV2>()});
  r.push_back({"mobilenet_v3_small", "mobilenet", "classifier", 224,
               maker<MobileNetV3>(std::string("mobilenet_v3_small"))});
  r.push_back({"mobilenet_v3_large", "mobilenet", "classifier", 224,
               maker<MobileNetV3>(std::string("mobilenet_v3_large"))});
  // The resolutions EfficientNet B0-B7 were designed for (torchvision's eval crop sizes).
  const std::pair<const char*, int64_t> efficientnets[] = {{"b0", 224}, {"b1", 240}, {"b2", 288}, {"b3", 300},
                                                           {"b4", 380}, {"b5", 456}, {"b6", 528}, {"b7", 600}};
  for (const auto& [variant, size] : efficientnets) {
    r.push_back({std::string("efficientnet_") + variant, "efficientnet", "classifier", size,
                 maker<EfficientNet>(efficientnet_config(variant))});
  }
  for (const char* variant : {"lite0", "lite1", "lite2", "lite3", "lite4"}) {
    const EfficientNetLiteConfig config = efficientnet_lite_config(variant);
    r.push_back({std::string("efficientnet_") + variant, "efficientnet_lite", "_fc", config.resolution,
                 maker<EfficientNetLite>(config)});
  }
  for (int64_t depth : {20, 32, 44, 56, 110}) {
    r.push_back({"resnet" + std::to_string(depth), "cifar_resnet", "linear", 32, maker<CifarResNet>(depth)});
  }
  r.push_back({"mnist_cnn", "small_cnn", "fc", 28, maker<MnistCnn>()});
  r.push_back({"fashion_cnn", "small_cnn", "fc2", 28, maker<FashionCnn>()});
  r.push_back({"cifar10_cnn", "small_cnn", "fc2", 32, maker<Cifar10Cnn>()});
  r.push_back({"cats_dogs_cnn", "small_cnn", "fc2", 150, maker<CatsDogsCnn>()});
  return r;
}

}  // namespace

const std::vector<ModelEntry>& model_registry() {
  static const std::vector<ModelEntry> registry = build_registry();
  return registry;
}

const ModelEntry& model_entry(const std::string& name) {
  for (const ModelEntry& e : model_registry()) {
    if (e.name == name) return e;
  }
  std::string known;
  for (const ModelEntry& e : model_registry()) known += (known.empty() ? "" : ", ") + e.name;
  fail("model", "unknown model '", name, "'; known models: ", known);
}

ModulePtr create_model(const std::string& name, int64_t num_classes) {
  EMBER_CHECK(num_classes > 0, "model", "num_classes must be positive, got ", num_classes);
  return model_entry(name).make(num_classes);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelEntry& e : model_registry()) names.push_back(e.name);
  return names;
}

Linear* head_linear(Module& model, const std::string& head) {
  Linear* found = nullptr;
  model.child(head)->apply([&](Module& m) {
    if (auto* l = dynamic_cast<Linear*>(&m)) found = l;  // the last Linear wins
  });
  return found;
}

std::string replace_head(Module& model, const std::string& head, int64_t num_classes, double p) {
  const Linear* old = head_linear(model, head);
  const int64_t in_features = old ? old->in_features : 0;
  EMBER_CHECK(in_features > 0, "replace_head", "the head '", head, "' of ", model.type_name(), " has no Linear layer");
  auto linear = std::make_shared<Linear>(in_features, num_classes);
  ModulePtr replacement = linear;
  if (p > 0) replacement = std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Dropout>(p), linear});
  model.replace_child(head, replacement);
  return head;
}

}  // namespace ember
