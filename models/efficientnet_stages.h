// EfficientNet-B0's seven stages of MBConv blocks (Tan & Le 2019, Table 1),
// the base that EfficientNet B0-B7 and EfficientNet-Lite0-4 scale by width
// and depth: expansion ratio, depthwise kernel, stride of the stage's first
// block, input and output channels, number of blocks.
#pragma once

#include <cstdint>

namespace ember {

struct MBConvStage {
  double expand;
  int64_t kernel, stride, in, out, blocks;
};

inline constexpr MBConvStage kEfficientNetB0Stages[] = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},  {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1}};

}  // namespace ember
