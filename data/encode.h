// Image encoding for previews (`ember augment`): PNG and JPEG through
// stb_image_write. Errors name the file.
#pragma once

#include <string>
#include <vector>

#include "data/image.h"

namespace ember {

void write_png(const std::string& path, const Image& image);
void write_jpeg(const std::string& path, const Image& image, int quality = 90);
std::vector<uint8_t> encode_png(const Image& image);

// Tiles images (all of one channel count) into a grid of `columns` columns,
// each cell as large as the largest image, separated by `gap` pixels of
// `background`.
Image make_grid(const std::vector<Image>& images, int columns, int gap = 4, uint8_t background = 255);

}  // namespace ember
