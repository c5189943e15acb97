// ResNet and DenseNet against torchvision 0.14 (see torchvision_check.h).
#include "models/registry.h"
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

// Without a graph to record, a dense block allocates its output once and
// copies each layer's new channels into it instead of concatenating every
// earlier feature map per layer: exactly the numbers of the concatenations
// (taken with gradients on), for one image, a batch of two (strided layer
// inputs) and a channels-last input (which keeps the concatenations, but
// where a 1x1 map is in both layouts).
TEST(DenseNet, BlockGrowsInPlaceWithoutAGraph) {
  manual_seed(5);
  ModulePtr model = create_model("densenet121", 10);
  model->eval();
  for (const Shape& shape : {Shape{1, 3, 48, 48}, Shape{2, 3, 40, 56}}) {
    for (bool channels_last : {false, true}) {
      SCOPED_TRACE(cat_str(shape_str(shape), channels_last ? " channels-last" : ""));
      Tensor x = randn(shape);
      if (channels_last) x = x.contiguous(MemoryFormat::ChannelsLast);
      const Tensor concatenated = (*model)(x);  // parameters require grad: the concatenations
      ASSERT_TRUE(concatenated.requires_grad());
      Tensor grown;
      {
        NoGradGuard no_grad;
        grown = (*model)(x);
      }
      EXPECT_EQ(max(abs(grown - concatenated.detach())).item<double>(), 0.0);
    }
  }
  // Gradients on but nothing requiring one (frozen weights): no graph either.
  Tensor x = randn({1, 3, 48, 48});
  const Tensor concatenated = (*model)(x);
  for (Tensor& p : model->parameters()) p.requires_grad_(false);
  const Tensor frozen = (*model)(x);
  EXPECT_FALSE(frozen.requires_grad());
  EXPECT_EQ(max(abs(frozen - concatenated.detach())).item<double>(), 0.0);
}

}  // namespace
}  // namespace ember::test
