// The five model families on CUDA against their torchvision twins (the same
// check as tests/models/, see torchvision_check.h): state_dict names, eval
// logits in float32 within 1e-4 and, in train mode in float64, every
// parameter gradient within 1e-3 and the BN running statistics. PyTorch runs
// on its own GPU when it has one (TF32 off on both sides), else on the CPU.
#include "tests/cuda/cuda_test_util.h"
#include "tests/models/torchvision_check.h"

namespace ember::test {
namespace {

const Device kCuda(DeviceType::CUDA, 0);

ModelCheck on_cuda(ModelCheck c) {
  c.device = kCuda;
  return c;
}

TEST(CudaModels, ResNet50) {
  EMBER_REQUIRE_CUDA();
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(on_cuda({"resnet50", "torchvision.models.resnet50()", 1000, {2, 3, 224, 224}, {2, 3, 64, 64}}));
}

TEST(CudaModels, DenseNet121) {
  EMBER_REQUIRE_CUDA();
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(
      on_cuda({"densenet121", "torchvision.models.densenet121(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}}));
}

TEST(CudaModels, MobileNetV2AndV3) {
  EMBER_REQUIRE_CUDA();
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(
      on_cuda({"mobilenet_v2", "torchvision.models.mobilenet_v2(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}}));
  check_against_torchvision(on_cuda(
      {"mobilenet_v3_large", "torchvision.models.mobilenet_v3_large(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}}));
}

TEST(CudaModels, EfficientNetB0) {
  EMBER_REQUIRE_CUDA();
  EMBER_REQUIRE_TORCH();
  check_against_torchvision(
      on_cuda({"efficientnet_b0", "torchvision.models.efficientnet_b0(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}}));
}

}  // namespace
}  // namespace ember::test
