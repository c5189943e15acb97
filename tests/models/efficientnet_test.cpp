// EfficientNet B0-B7 against torchvision 0.14 (see torchvision_check.h). The
// larger variants run at small batches and resolutions to keep CI short;
// their structure (names, shapes, counts) is checked in full regardless.
#include "models/efficientnet.h"
#include "models/registry.h"
#include "tests/models/torchvision_check.h"

namespace ember::test {
namespace {

std::string ctor(const std::string& name, int64_t num_classes) {
  return "torchvision.models." + name + "(num_classes=" + std::to_string(num_classes) + ")";
}

TEST(EfficientNet, B0) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"efficientnet_b0", ctor("efficientnet_b0", 10), 10, {2, 3, 224, 224}, {2, 3, 64, 64}});
  check_against_torchvision({"efficientnet_b0", "torchvision.models.efficientnet_b0()", 1000, {1, 3, 193, 211}, {}});
  EXPECT_EQ(create_model("efficientnet_b0")->num_parameters(), 5288548);  // torchvision's meta "num_params"
}

TEST(EfficientNet, B1AndB2AndB3) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"efficientnet_b1", ctor("efficientnet_b1", 10), 10, {1, 3, 128, 128}, {2, 3, 64, 64}});
  check_against_torchvision({"efficientnet_b2", ctor("efficientnet_b2", 10), 10, {1, 3, 97, 113}, {2, 3, 64, 64}});
  check_against_torchvision({"efficientnet_b3", ctor("efficientnet_b3", 10), 10, {1, 3, 96, 96}, {4, 3, 32, 32}});
}

TEST(EfficientNet, B4ToB7) {
  EMBER_REQUIRE_TORCH();
  check_against_torchvision({"efficientnet_b4", ctor("efficientnet_b4", 10), 10, {1, 3, 64, 64}, {4, 3, 32, 32}});
  // B5-B7 use BN eps 1e-3 / momentum 0.01: the train check covers the momentum.
  check_against_torchvision({"efficientnet_b5", ctor("efficientnet_b5", 10), 10, {1, 3, 64, 64}, {2, 3, 32, 32}});
  check_against_torchvision({"efficientnet_b6", ctor("efficientnet_b6", 10), 10, {1, 3, 64, 64}, {}});
  check_against_torchvision({"efficientnet_b7", ctor("efficientnet_b7", 10), 10, {1, 3, 64, 64}, {}});
}

TEST(EfficientNet, ParameterCountsOfAllVariants) {
  // torchvision 0.14's documented counts (EfficientNet_B*_Weights meta "num_params", 1000 classes).
  const std::pair<const char*, int64_t> counts[] = {
      {"efficientnet_b0", 5288548},  {"efficientnet_b1", 7794184},  {"efficientnet_b2", 9109994},
      {"efficientnet_b3", 12233232}, {"efficientnet_b4", 19341616}, {"efficientnet_b5", 30389784},
      {"efficientnet_b6", 43040704}, {"efficientnet_b7", 66347960}};
  for (const auto& [name, count] : counts) EXPECT_EQ(create_model(name)->num_parameters(), count) << name;
}

TEST(EfficientNet, ConfigsAndErrors) {
  EfficientNetConfig b4 = efficientnet_config("b4"), b7 = efficientnet_config("b7");
  EXPECT_EQ(b4.norm.eps, 1e-5);
  EXPECT_EQ(b7.norm.eps, 1e-3);
  EXPECT_EQ(*b7.norm.momentum, 0.01);
  EXPECT_EQ(b7.dropout, 0.5);
  EXPECT_EQ(model_entry("efficientnet_b7").default_size, 600);
  expect_error([] { efficientnet_config("b8"); }, {"EfficientNet", "b8"});
}

}  // namespace
}  // namespace ember::test
