// Resize kernels on 8-bit HWC images.
//
//   Nearest            OpenCV's INTER_NEAREST: source index floor(dst * in/out).
//   Linear, antialias  PIL's bilinear resample (what torchvision does to PIL
//                      images): a triangle filter stretched by the scale on
//                      downscale, so every source pixel contributes; 22-bit
//                      fixed-point taps, horizontal pass then vertical, each
//                      rounded to 8 bits as PIL does. Cost per output pixel
//                      and channel: about 2*scale multiply-adds per axis.
//   Linear, no AA      OpenCV's INTER_LINEAR (Albumentations): 2 taps per
//                      axis at half-pixel centres, 11-bit fixed point; 4
//                      multiply-adds per output byte. Aliases on downscale.
//   Area               OpenCV's INTER_AREA: exact box-filter overlap weights
//                      on downscale (float), OpenCV's area-upscale weights
//                      otherwise.
#pragma once

#include "data/augment/border.h"
#include "data/image.h"

namespace ember {

Image resize(const Image& src, int out_h, int out_w, Interpolation interp = Interpolation::Linear,
             bool antialias = true);

}  // namespace ember
