// Decoding against PIL (torchvision's loader): JPEG, PNG and BMP pixels must
// be identical (the same libjpeg-turbo IDCT and upsampling; PNG and BMP are
// lossless), reduced-size JPEG decoding identical to PIL's draft(); and every
// kind of bad input must end in one ember::Error naming the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/decode.h"
#include "data/encode.h"
#include "tests/data/image_oracle.h"
#include "tests/support/oracle.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;

std::string temp_dir() {
  std::string d = (fs::temp_directory_path() / ("ember_decode_" + std::to_string(getpid()))).string();
  fs::create_directories(d);
  return d;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

TEST(Decode, IdenticalToPil) {
  EMBER_NEED_SHARED_DATA("hymenoptera_data", "cats_and_dogs_filtered");
  EMBER_NEED_ORACLE(tv());
  const std::string d = shared_data();
  for (std::string f : {"/photos/parrot.jpg", "/photos/chelsea.png", "/photos/coffee.png", "/photos/cat.bmp",
                        "/photos/grace_hopper.bmp", "/hymenoptera_data/train/ants/formica.jpeg",
                        "/cats_and_dogs_filtered/train/cats/cat.0.jpg", "/cats_and_dogs_filtered/train/dogs/dog.7.jpg"}) {
    const std::string path = d + f;
    expect_close(read_image(path), tv().call_image("t.decode", {{"path", path}, {"mode", "RGB"}}, std::vector<Array>{}), 0, "decode RGB " + f);
    DecodeOptions grey;
    grey.channels = 1;
    expect_close(read_image(path, grey), tv().call_image("t.decode", {{"path", path}, {"mode", "L"}}, std::vector<Array>{}), 0, "decode L " + f);
  }
}

TEST(Decode, ReducedSizeJpegMatchesPilDraft) {
  EMBER_NEED_SHARED_DATA();
  EMBER_NEED_ORACLE(tv());
  const std::string path = shared_data() + "/photos/parrot.jpg";
  Image full = read_image(path);
  for (int target : {64, 100, full.width / 2}) {
    DecodeOptions o;
    o.min_height = o.min_width = target;
    Image small = read_image(path, o);
    EXPECT_GE(small.width, target);
    EXPECT_GE(small.height, std::min(target, full.height));
    // PIL's draft takes the largest scale with min(W // w, H // h) >= scale.
    const int denom = static_cast<int>(std::lround(static_cast<double>(full.width) / small.width));
    EXPECT_TRUE(denom == 1 || denom == 2 || denom == 4 || denom == 8) << denom;
    json req{{"path", path}, {"h", full.height / denom}, {"w", full.width / denom}};
    expect_close(small, tv().call_image("t.decode_draft", req, std::vector<Array>{}), 0,
                 "reduced decode to " + std::to_string(small.width));
  }
}

TEST(Decode, BadInputNamesTheFile) {
  EMBER_NEED_SHARED_DATA();
  const std::string d = temp_dir();
  const std::vector<uint8_t> jpeg = read_file_bytes(shared_data() + "/photos/parrot.jpg");
  const std::vector<uint8_t> png = read_file_bytes(shared_data() + "/photos/chelsea.png");
  write_bytes(d + "/truncated.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2)));
  write_bytes(d + "/header_only.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + 300));
  std::vector<uint8_t> corrupt = jpeg, header = jpeg;
  uint32_t x = 1;
  for (size_t i = jpeg.size() / 2; i < jpeg.size() / 2 + 3000; ++i) corrupt[i] = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  for (size_t i = 20; i < 600; ++i) header[i] = 0xAB;
  write_bytes(d + "/corrupt.jpg", corrupt);
  write_bytes(d + "/header.jpg", header);
  write_bytes(d + "/truncated.png", std::vector<uint8_t>(png.begin(), png.begin() + static_cast<long>(png.size() / 3)));
  write_bytes(d + "/text.jpg", {'h', 'e', 'l', 'l', 'o', '\n'});
  write_bytes(d + "/empty.png", {});
  expect_error([&] { read_image(d + "/truncated.jpg"); }, {"truncated.jpg", "truncated JPEG"});
  expect_error([&] { read_image(d + "/header_only.jpg"); }, {"header_only.jpg"});
  expect_error([&] { read_image(d + "/corrupt.jpg"); }, {"corrupt.jpg", "corrupt JPEG"});
  expect_error([&] { read_image(d + "/header.jpg"); }, {"header.jpg", "corrupt JPEG"});
  expect_error([&] { read_image(d + "/truncated.png"); }, {"truncated.png", "PNG"});
  expect_error([&] { read_image(d + "/text.jpg"); }, {"text.jpg", "not an image"});
  expect_error([&] { read_image(d + "/empty.png"); }, {"empty.png", "empty"});
  expect_error([&] { read_image(d + "/missing.jpg"); }, {"missing.jpg", "cannot open"});
  expect_error([&] { read_image(d); }, {d, "folder"});
  fs::remove_all(d);
  const std::string gif = shared_data() + "/hymenoptera_data/train/ants/imageNotFound.gif";
  if (!fs::exists(gif)) GTEST_SKIP() << "the real GIF is not in the shared data: " << gif;
  expect_error([&] { read_image(gif); }, {"imageNotFound.gif", "GIF files are not supported"});
}

TEST(Encode, PngRoundTripAndGrid) {
  EMBER_NEED_SHARED_DATA();
  const std::string d = temp_dir();
  Image img = read_image(shared_data() + "/photos/coffee.png");
  write_png(d + "/a.png", img);
  expect_close(read_image(d + "/a.png"), img, 0, "PNG round trip");
  write_jpeg(d + "/a.jpg", img, 95);
  expect_close(read_image(d + "/a.jpg"), img, 64, "JPEG round trip (lossy)");
  Image grid = make_grid({img, img, img}, 2, 4);
  EXPECT_EQ(grid.width, 2 * img.width + 3 * 4);
  EXPECT_EQ(grid.height, 2 * img.height + 3 * 4);
  EXPECT_EQ(grid.at(4, 4, 0), img.at(0, 0, 0));
  expect_error([&] { write_png("/nonexistent-folder/x.png", img); }, {"/nonexistent-folder/x.png"});
  fs::remove_all(d);
}

}  // namespace
}  // namespace ember::test
