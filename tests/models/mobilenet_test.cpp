// MobileNetV2 and MobileNetV3 against torchvision 0.14 (see torchvision_check.h),
// and their width multipliers against torchvision's state_dict shapes.
#include "models/mobilenet_v2.h"
#include "models/mobilenet_v3.h"
#include "models/registry.h"
#include "tests/models/torchvision_check.h"

namespace ember::test {
namespace {

// Names and shapes of `mine` against the state_dict of the torch model built by `ctor`.
void expect_same_state_dict(const Module& mine, const std::string& ctor) {
  auto theirs = torch_eval_named("m.state_dict()", {}, "import torchvision\nm = " + ctor + "\n");
  NamedTensors sd = mine.state_dict();
  ASSERT_EQ(sd.size(), theirs.size()) << ctor;
  for (size_t i = 0; i < sd.size(); ++i) {
    ASSERT_EQ(sd[i].first, theirs[i].first) << ctor;
    ASSERT_EQ(sd[i].second.shape(), theirs[i].second.shape()) << ctor << " " << sd[i].first;
  }
}

TEST(MobileNetV2, MatchesTorchvision) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"mobilenet_v2", "torchvision.models.mobilenet_v2(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}});
  check_against_torchvision({"mobilenet_v2", "torchvision.models.mobilenet_v2()", 1000, {1, 3, 193, 211}, {}});
  // torchvision's documented count (MobileNet_V2_Weights meta "num_params").
  EXPECT_EQ(create_model("mobilenet_v2")->num_parameters(), 3504872);
}

TEST(MobileNetV2, WidthMultipliers) {
  EMBER_REQUIRE_TORCH();
  expect_same_state_dict(MobileNetV2(10, 0.5), "torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.5)");
  expect_same_state_dict(MobileNetV2(10, 1.4), "torchvision.models.mobilenet_v2(num_classes=10, width_mult=1.4)");
}

TEST(MobileNetV3, LargeMatchesTorchvision) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"mobilenet_v3_large", "torchvision.models.mobilenet_v3_large(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}});
  check_against_torchvision({"mobilenet_v3_large", "torchvision.models.mobilenet_v3_large()", 1000, {1, 3, 193, 211}, {}});
  EXPECT_EQ(create_model("mobilenet_v3_large")->num_parameters(), 5483032);
}

TEST(MobileNetV3, SmallMatchesTorchvision) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"mobilenet_v3_small", "torchvision.models.mobilenet_v3_small(num_classes=10)", 10, {2, 3, 224, 224}, {2, 3, 64, 64}});
  check_against_torchvision({"mobilenet_v3_small", "torchvision.models.mobilenet_v3_small()", 1000, {1, 3, 193, 211}, {}});
  EXPECT_EQ(create_model("mobilenet_v3_small")->num_parameters(), 2542856);
}

TEST(MobileNetV3, WidthMultipliersAndReducedTail) {
  EMBER_REQUIRE_TORCH();
  expect_same_state_dict(MobileNetV3("mobilenet_v3_large", 10, 0.75),
                         "torchvision.models.mobilenet_v3_large(num_classes=10, width_mult=0.75)");
  expect_same_state_dict(MobileNetV3("mobilenet_v3_small", 10, 1.25, 0.2, /*reduced_tail=*/true, /*dilated=*/true),
                         "torchvision.models.mobilenet_v3_small(num_classes=10, width_mult=1.25, reduced_tail=True, "
                         "dilated=True)");
}

TEST(MobileNetV3, UnknownArchitectureIsAClearError) {
  expect_error([] { MobileNetV3("mobilenet_v3_medium"); }, {"MobileNetV3", "mobilenet_v3_medium", "mobilenet_v3_large"});
}

}  // namespace
}  // namespace ember::test
