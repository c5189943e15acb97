// EfficientNet-Lite0 to Lite4 against their PyTorch reference, the PyPI
// package efficientnet_lite_pytorch (see torchvision_check.h for what is
// compared: names, shapes, parameter count, eval logits, and train-mode
// logits, gradients and running statistics). The oracle runs in the venv of
// tests/oracle/efficientnet_lite_venv.sh, which sees Debian's torch too.
//
// The reference is built with image_size=None, so that its "SAME" padding is
// worked out from each input as TensorFlow does and as Ember's Conv2dSame
// does; with its default (the variant's resolution) the padding is fixed at
// construction and wrong for other input sizes. At 224 both agree, which the
// Lite0 check at its own resolution shows. Drop connect is off in the
// reference for the train check (drop_connect_rate=0), as stochastic depth is
// in Ember's: the two engines would draw different masks.
#include <cstdlib>

#include "models/efficientnet_lite.h"
#include "models/registry.h"
#include "tests/models/torchvision_check.h"
#include "tests/support/efficientnet_lite_python.h"

namespace ember::test {
namespace {

// Sends the PyTorch oracle (started on first use) to the Lite venv's python.
#define USE_LITE_ORACLE()                                                                     \
  do {                                                                                       \
    EMBER_REQUIRE_EFFICIENTNET_LITE_PYTHON();                                                \
    ::setenv("EMBER_PYTHON", efficientnet_lite_python().c_str(), 1);                           \
    EMBER_REQUIRE_TORCH();                                                                   \
  } while (0)

// The package leaves PyTorch's default initialisation, under which the
// signal fades through 60 layers until the logits are the classifier's bias
// alone (and any two implementations agree). So the reference gets He-normal
// convolutions and batch norms with random affine parameters and running
// statistics, small variances included, where eps 1e-3 matters.
const char* kPrelude = R"(
from efficientnet_lite_pytorch import EfficientNet
def lite(name, **kwargs):
    m = EfficientNet.from_name(name, **kwargs)
    for mod in m.modules():
        if isinstance(mod, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(mod.weight, mode='fan_out')
        elif isinstance(mod, torch.nn.BatchNorm2d):
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.005, 1.5)
    return m
)";

ModelCheck lite(const std::string& variant, int64_t num_classes, Shape eval_input, Shape train_input,
                const std::string& extra = ", image_size=None, drop_connect_rate=0.0") {
  ModelCheck c{"efficientnet_" + variant,
               "lite('efficientnet-" + variant + "', num_classes=" + std::to_string(num_classes) +
                   extra + ")",
               num_classes, std::move(eval_input), std::move(train_input)};
  c.torch_prelude = kPrelude;
  return c;
}

TEST(EfficientNetLite, Lite0) {
  USE_LITE_ORACLE();
  check_against_torchvision(lite("lite0", 10, {2, 3, 224, 224}, {2, 3, 64, 64}));
  // Odd sizes: stride-2 layers then meet odd inputs (even padding) and even ones (one more zero after).
  check_against_torchvision(lite("lite0", 1000, {1, 3, 193, 211}, {}));
  // The reference as its users build it, padding fixed for 224.
  check_against_torchvision(lite("lite0", 1000, {1, 3, 224, 224}, {}, ""));
}

TEST(EfficientNetLite, Lite1ToLite4) {
  USE_LITE_ORACLE();
  check_against_torchvision(lite("lite1", 10, {1, 3, 97, 113}, {2, 3, 32, 32}));
  check_against_torchvision(lite("lite2", 10, {1, 3, 96, 96}, {}));
  check_against_torchvision(lite("lite3", 10, {1, 3, 64, 64}, {}));
  check_against_torchvision(lite("lite4", 10, {1, 3, 65, 65}, {2, 3, 32, 32}));
}

TEST(EfficientNetLite, RegistryAndConfigs) {
  EXPECT_EQ(model_entry("efficientnet_lite0").head, "_fc");
  EXPECT_EQ(model_entry("efficientnet_lite0").default_size, 224);
  EXPECT_EQ(model_entry("efficientnet_lite4").default_size, 300);
  EfficientNetLiteConfig l2 = efficientnet_lite_config("lite2");
  EXPECT_EQ(l2.width_mult, 1.1);
  EXPECT_EQ(l2.depth_mult, 1.2);
  EXPECT_EQ(l2.dropout, 0.3);
  expect_error([] { efficientnet_lite_config("lite5"); }, {"EfficientNetLite", "lite5"});
  // No squeeze-excitation, unscaled stem and head: Lite4's first block reads 32 channels, its head makes 1280.
  NamedTensors sd = create_model("efficientnet_lite4")->state_dict();
  std::map<std::string, Tensor> m(sd.begin(), sd.end());
  EXPECT_EQ(m.at("_conv_stem.weight").shape(), (Shape{32, 3, 3, 3}));
  EXPECT_EQ(m.at("_blocks.0._depthwise_conv.weight").shape(), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(m.at("_conv_head.weight").size(0), 1280);
  for (const auto& [name, t] : sd) EXPECT_EQ(name.find("_se_"), std::string::npos) << name;
}

}  // namespace
}  // namespace ember::test
