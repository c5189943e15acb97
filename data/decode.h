// Image decoding: JPEG (libjpeg-turbo), PNG and BMP (stb_image) into 8-bit
// RGB or grey. The format is sniffed from the bytes, not the file name.
// JPEGs may be decoded at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling, much
// faster) when the caller says how small the result may be.
// Every failure throws ember::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace ember {

enum class ImageFormat { Unknown, Jpeg, Png, Bmp, Gif, Webp, Tiff };
const char* image_format_name(ImageFormat f);
ImageFormat sniff_image_format(const uint8_t* data, size_t size);

struct DecodeOptions {
  int channels = 3;  // 3: RGB (grey files are expanded), 1: grey (PIL's "L" weights)
  // When both are > 0, a JPEG is decoded at the smallest 1/2^k scale
  // (k <= 3) whose size is still at least min_height x min_width.
  int min_height = 0, min_width = 0;
};

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options = {});
Image read_image(const std::string& path, const DecodeOptions& options = {});

// The whole file; throws naming the path when it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace ember
