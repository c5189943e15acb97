// ResNet and DenseNet against torchvision 0.14 (see torchvision_check.h).
#include "tests/models/torchvision_check.h"

namespace ember::test {
namespace {

TEST(ResNet, Resnet18) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"resnet18", "torchvision.models.resnet18(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}});
  check_against_torchvision({"resnet18", "torchvision.models.resnet18(num_classes=7)", 7, {1, 3, 193, 211}, {}});
}
TEST(ResNet, Resnet34) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"resnet34", "torchvision.models.resnet34(num_classes=10)", 10, {1, 3, 224, 224}, {2, 3, 64, 64}});
}
TEST(ResNet, Resnet50) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"resnet50", "torchvision.models.resnet50()", 1000, {1, 3, 224, 224}, {2, 3, 64, 64}});
  check_against_torchvision({"resnet50", "torchvision.models.resnet50(num_classes=5)", 5, {1, 3, 193, 211}, {}});
}
TEST(ResNet, Resnet101And152) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"resnet101", "torchvision.models.resnet101(num_classes=10)", 10, {1, 3, 128, 128}, {2, 3, 64, 64}});
  check_against_torchvision({"resnet152", "torchvision.models.resnet152(num_classes=10)", 10, {1, 3, 96, 96}, {2, 3, 64, 64}});
}
TEST(DenseNet, Densenet121) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"densenet121", "torchvision.models.densenet121(num_classes=10)", 10, {1, 3, 224, 224}, {2, 3, 64, 64}});
  check_against_torchvision({"densenet121", "torchvision.models.densenet121(num_classes=3)", 3, {1, 3, 193, 211}, {}});
}
TEST(DenseNet, Densenet161And169And201) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"densenet161", "torchvision.models.densenet161(num_classes=10)", 10, {1, 3, 96, 96}, {2, 3, 64, 64}});
  check_against_torchvision({"densenet169", "torchvision.models.densenet169(num_classes=10)", 10, {1, 3, 96, 96}, {2, 3, 64, 64}});
  check_against_torchvision({"densenet201", "torchvision.models.densenet201(num_classes=10)", 10, {1, 3, 96, 96}, {2, 3, 64, 64}});
}

}  // namespace
}  // namespace ember::test
