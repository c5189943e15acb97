#include "models/small_cnn.h"

#include "engine/error.h"

namespace ember {
namespace {

void check_input(const Tensor& x, const char* model, int64_t channels, int64_t side) {
  EMBER_CHECK(x.dim() == 4 && x.size(1) == channels && x.size(2) == side && x.size(3) == side, model,
              "expects input [N, ", channels, ", ", side, ", ", side, "] (its classifier has a fixed size), got ",
              x.shape());
}

}  // namespace

// 28 -> 12 (5x5/2) -> 4 (5x5/2) -> 2 (3x3): 8 x 2 x 2 = 32 features.
MnistCnn::MnistCnn(int64_t num_classes) : Module("MnistCnn") {
  conv1_ = register_module("conv1", make_conv2d(1, 8, 5, 2));
  bn1_ = register_module("BN1", std::make_shared<BatchNorm2d>(8));
  conv2_ = register_module("conv2", make_conv2d(8, 8, 5, 2));
  bn2_ = register_module("BN2", std::make_shared<BatchNorm2d>(8));
  conv3_ = register_module("conv3", make_conv2d(8, 8, 3));
  register_module("fc", std::make_shared<Linear>(8 * 2 * 2, num_classes));
  relu_ = register_module("relu", make_relu());
}

Tensor MnistCnn::forward(const Tensor& x) {
  check_input(x, "MnistCnn", 1, 28);
  Tensor h = (*bn1_)((*relu_)((*conv1_)(x)));
  h = (*bn2_)((*relu_)((*conv2_)(h)));
  h = (*relu_)((*conv3_)(h)).flatten(1);
  return (*child("fc"))(h);
}

// 150 -> 148 -> 74 -> 72 -> 36 -> 34 -> 17 -> 15 -> 7: 128 x 7 x 7 = 6272 features.
CatsDogsCnn::CatsDogsCnn(int64_t num_classes) : Module("CatsDogsCnn") {
  auto features = std::make_shared<Sequential>();
  int64_t in = 3;
  for (int64_t out : {32, 64, 128, 128}) {
    features->add(make_conv2d(in, out, 3));
    features->add(make_relu());
    features->add(std::make_shared<MaxPool2d>(Pair{2, 2}));
    in = out;
  }
  features_ = register_module("features", features);
  flatten_ = register_module("flatten", std::make_shared<Flatten>());
  dropout_ = register_module("dropout", std::make_shared<Dropout>(0.5));
  fc1_ = register_module("fc1", std::make_shared<Linear>(128 * 7 * 7, 512));
  relu_ = register_module("relu", make_relu());
  register_module("fc2", std::make_shared<Linear>(512, num_classes));
}

Tensor CatsDogsCnn::forward(const Tensor& x) {
  check_input(x, "CatsDogsCnn", 3, 150);
  Tensor h = (*flatten_)((*features_)(x));
  h = (*relu_)((*fc1_)((*dropout_)(h)));
  return (*child("fc2"))(h);
}

// 32 -> 32 (3x3 same) -> 16 (3x3 same, stride 2) -> 8 (pool): 32 x 8 x 8 = 2048 features.
FashionCnn::FashionCnn(int64_t num_classes) : Module("FashionCnn") {
  auto features = std::make_shared<Sequential>();
  features->add(make_conv2d(1, 16, 3, 1, 1));
  features->add(std::make_shared<BatchNorm2d>(16));
  features->add(make_relu());
  features->add(std::make_shared<MaxPool2d>(Pair{2, 2}));
  features->add(make_conv2d(16, 32, 3, 1, 1));
  features->add(std::make_shared<BatchNorm2d>(32));
  features->add(make_relu());
  features->add(std::make_shared<MaxPool2d>(Pair{2, 2}));
  features_ = register_module("features", features);
  flatten_ = register_module("flatten", std::make_shared<Flatten>());
  fc1_ = register_module("fc1", std::make_shared<Linear>(32 * 7 * 7, 128));
  relu_ = register_module("relu", make_relu());
  dropout_ = register_module("dropout", std::make_shared<Dropout>(0.3));
  register_module("fc2", std::make_shared<Linear>(128, num_classes));
}

Tensor FashionCnn::forward(const Tensor& x) {
  check_input(x, "FashionCnn", 1, 28);
  Tensor h = (*dropout_)((*relu_)((*fc1_)((*flatten_)((*features_)(x)))));
  return (*child("fc2"))(h);
}

Cifar10Cnn::Cifar10Cnn(int64_t num_classes) : Module("Cifar10Cnn") {
  auto features = std::make_shared<Sequential>();
  features->add(make_conv2d(3, 16, 3, 1, 1));
  features->add(make_relu());
  features->add(make_conv2d(16, 32, 3, 2, 1));
  features->add(make_relu());
  features->add(std::make_shared<MaxPool2d>(Pair{2, 2}));
  features_ = register_module("features", features);
  flatten_ = register_module("flatten", std::make_shared<Flatten>());
  fc1_ = register_module("fc1", std::make_shared<Linear>(32 * 8 * 8, 128));
  relu_ = register_module("relu", make_relu());
  register_module("fc2", std::make_shared<Linear>(128, num_classes));
}

Tensor Cifar10Cnn::forward(const Tensor& x) {
  check_input(x, "Cifar10Cnn", 3, 32);
  Tensor h = (*relu_)((*fc1_)((*flatten_)((*features_)(x))));
  return (*child("fc2"))(h);
}

}  // namespace ember
