// Conv2dSame (TensorFlow's "SAME" padding) against PyTorch: the padding is
// written out below from TensorFlow's definition (ceil(in / stride) outputs,
// the odd zero after) and applied with F.pad before F.conv2d.
#include <gtest/gtest.h>

#include "engine/ember.h"
#include "layers/conv2d_same.h"
#include "tests/support/oracle.h"

namespace ember::test {
namespace {

const char* kTfSame = R"(
import torch.nn.functional as F
def tf_same(x, w, b, stride, groups):
    pads = []
    for dim, k in ((3, w.shape[3]), (2, w.shape[2])):
        n = x.shape[dim]
        total = max((-(-n // stride) - 1) * stride + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.conv2d(F.pad(x, pads), w, b, stride=stride, groups=groups)
)";

TEST(Conv2dSame, PaddingArithmetic) {
  // Even input, stride 2: the extra zero after; odd input: even padding.
  EXPECT_EQ(same_padding(224, 3, 2).before, 0);
  EXPECT_EQ(same_padding(224, 3, 2).after, 1);
  EXPECT_EQ(same_padding(224, 5, 2).before, 1);
  EXPECT_EQ(same_padding(224, 5, 2).after, 2);
  EXPECT_EQ(same_padding(225, 3, 2).before, 1);
  EXPECT_EQ(same_padding(225, 3, 2).after, 1);
  EXPECT_EQ(same_padding(7, 1, 1).after, 0);
  EXPECT_EQ(same_padding(1, 5, 2).before, 2);  // a 1-pixel input: one output, centred
  EXPECT_EQ(same_padding(1, 5, 2).after, 2);
}

TEST(Conv2dSame, MatchesTensorFlowPaddingInPyTorch) {
  EMBER_REQUIRE_TORCH();
  struct Case {
    Shape x, w;
    int64_t stride, groups;
  };
  // Even and odd sizes, stride 1 and 2, 1x1/3x3/5x5, depthwise, with and without bias.
  const Case cases[] = {{{2, 4, 8, 9}, {6, 4, 3, 3}, 2, 1},
                        {{1, 6, 10, 10}, {6, 1, 5, 5}, 2, 6},
                        {{1, 6, 7, 6}, {6, 1, 5, 5}, 1, 6},
                        {{2, 3, 5, 5}, {4, 3, 1, 1}, 1, 1}};
  for (const Case& c : cases) {
    for (bool bias : {false, true}) {
      std::vector<InputSpec> inputs = {in::randn(c.x), in::randn(c.w)};
      if (bias) inputs.push_back(in::randn({c.w[0]}));
      const std::string expr = "tf_same(a, b, " + std::string(bias ? "c" : "None") + ", " + std::to_string(c.stride) +
                               ", " + std::to_string(c.groups) + ")";
      check_op(inputs, expr,
               [&](const Inputs& x) { return conv2d_same(x[0], x[1], bias ? x[2] : Tensor(), c.stride, c.groups); },
               kAccumulating, kTfSame);
    }
  }
}

TEST(Conv2dSame, ModuleNamesAndShapes) {
  Conv2dSame depthwise(8, 8, 5, 2, 8, false);
  NamedTensors sd = depthwise.state_dict();
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].first, "weight");
  EXPECT_EQ(sd[0].second.shape(), (Shape{8, 1, 5, 5}));
  EXPECT_EQ(depthwise(randn({1, 8, 224, 224})).shape(), (Shape{1, 8, 112, 112}));
  EXPECT_EQ(depthwise(randn({1, 8, 15, 16})).shape(), (Shape{1, 8, 8, 8}));
  expect_error([] { Conv2dSame(6, 4, 3, 1, 4); }, {"Conv2dSame", "groups"});
}

}  // namespace
}  // namespace ember::test
