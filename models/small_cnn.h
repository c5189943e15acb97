// The small CNNs of the source documents, each with exactly the parameter
// count the document reports, in PyTorch layout (NCHW input, logits out: the
// softmax or sigmoid lives in the loss).
//
// mnist_cnn (MnistCnn), 2,762 parameters, 1x28x28 input: the lecture's
//   MNISTCNN: conv1 5x5/2 (1->8), relu, BN1; conv2 5x5/2 (8->8), relu, BN2;
//   conv3 3x3 (8->8), relu; fc 32 -> 10. Names conv1, BN1, conv2, BN2, conv3, fc
//   as the lecture's code has them (batch norm after the ReLU, as there).
// cats_dogs_cnn (CatsDogsCnn), 3,453,121 parameters, 3x150x150 input: the
//   Keras model Conv2D(32,3)-MaxPool(2)-Conv2D(64,3)-MaxPool-Conv2D(128,3)-
//   MaxPool-Conv2D(128,3)-MaxPool-Flatten-Dropout(0.5)-Dense(512)-Dense(1),
//   all ReLU, one logit. Names features.{0,3,6,9} (convs), fc1, fc2.
// cifar10_cnn (Cifar10Cnn), 268,650 parameters, 3x32x32 input: the Keras
//   feature extractor Conv2D(16,3,same)-Conv2D(32,3,same,stride 2)-MaxPool(2)
//   and classifier Dense(128)-Dense(10). Names features.{0,2}, fc1, fc2. (The
//   strided conv pads 1 on both sides, PyTorch's way; Keras's "same" pads
//   only after. Same shapes and parameters.)
// fashion_cnn (FashionCnn), 207,018 parameters, 1x28x28 input: Ember's main
//   job model, the usual two-block Fashion-MNIST CNN: Conv(1->16,3,pad 1)-BN-
//   ReLU-MaxPool(2), Conv(16->32,3,pad 1)-BN-ReLU-MaxPool(2), Flatten,
//   Dense(128)-ReLU-Dropout(0.3)-Dense(10). Names features.{0,1,4,5}, fc1, fc2.
//   Reaches about 92% test accuracy in a few CPU minutes.
// Weights start as PyTorch's layer defaults (the lecture's PyTorch code).
#pragma once

#include "layers/layers.h"

namespace ember {

class MnistCnn final : public Module {
 public:
  explicit MnistCnn(int64_t num_classes = 10);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr conv1_, bn1_, conv2_, bn2_, conv3_, relu_;
};

class CatsDogsCnn final : public Module {
 public:
  explicit CatsDogsCnn(int64_t num_classes = 1);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr features_, flatten_, dropout_, fc1_, relu_;
};

class FashionCnn final : public Module {
 public:
  explicit FashionCnn(int64_t num_classes = 10);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr features_, flatten_, fc1_, relu_, dropout_;
};

class Cifar10Cnn final : public Module {
 public:
  explicit Cifar10Cnn(int64_t num_classes = 10);
  Tensor forward(const Tensor& x) override;

 private:
  ModulePtr features_, flatten_, fc1_, relu_;
};

}  // namespace ember
