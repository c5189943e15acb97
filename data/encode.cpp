#include "data/encode.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cstring>

#include "engine/error.h"

namespace ember {
namespace {

void check_writable(const Image& image, const std::string& path) {
  EMBER_CHECK(!image.empty() && (image.channels == 1 || image.channels == 3 || image.channels == 4), "write_image",
              path, ": cannot write a ", image.shape_str(), " image");
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

}  // namespace

void write_png(const std::string& path, const Image& image) {
  check_writable(image, path);
  if (!stbi_write_png(path.c_str(), image.width, image.height, image.channels, image.pixels.data(),
                      static_cast<int>(image.row_bytes())))
    fail("write_png", path, ": cannot write the file");
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  check_writable(image, path);
  if (!stbi_write_jpg(path.c_str(), image.width, image.height, image.channels, image.pixels.data(), quality))
    fail("write_jpeg", path, ": cannot write the file");
}

std::vector<uint8_t> encode_png(const Image& image) {
  check_writable(image, "<memory>");
  std::vector<uint8_t> out;
  stbi_write_png_to_func(append_bytes, &out, image.width, image.height, image.channels, image.pixels.data(),
                         static_cast<int>(image.row_bytes()));
  return out;
}

Image make_grid(const std::vector<Image>& images, int columns, int gap, uint8_t background) {
  EMBER_CHECK(!images.empty() && columns > 0, "make_grid", "needs at least one image and one column");
  int cell_h = 0, cell_w = 0, c = images[0].channels;
  for (const Image& im : images) {
    EMBER_CHECK(im.channels == c, "make_grid", "images have ", c, " and ", im.channels, " channels");
    cell_h = std::max(cell_h, im.height);
    cell_w = std::max(cell_w, im.width);
  }
  const int n = static_cast<int>(images.size()), cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  Image grid(rows * cell_h + (rows + 1) * gap, cols * cell_w + (cols + 1) * gap, c);
  std::fill(grid.pixels.begin(), grid.pixels.end(), background);
  for (int i = 0; i < n; ++i) {
    const Image& im = images[static_cast<size_t>(i)];
    int y0 = gap + (i / cols) * (cell_h + gap), x0 = gap + (i % cols) * (cell_w + gap);
    for (int y = 0; y < im.height; ++y)
      std::memcpy(grid.row(y0 + y) + int64_t{x0} * c, im.row(y), static_cast<size_t>(im.row_bytes()));
  }
  return grid;
}

}  // namespace ember
