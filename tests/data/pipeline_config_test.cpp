// Pipeline configs: the documented format (JSON and YAML), the three file
// shapes, errors naming op, parameter and file, reproducibility from a
// seed, and the probability semantics of p, OneOf and SomeOf.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/augment/ops.h"
#include "data/pipeline_config.h"
#include "tests/support/oracle.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* kSeedPipeline = R"([
  {"op": "Resize", "height": 256, "width": 256},
  {"op": "HorizontalFlip", "p": 0.85},
  {"op": "RandomRotate90", "p": 0.85},
  {"op": "VerticalFlip", "p": 0.85},
  {"op": "ColorJitter", "brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.2},
  {"op": "RandomCrop", "width": 224, "height": 224},
  {"op": "OneOf", "ops": [{"op": "MotionBlur", "p": 0.85}, {"op": "OpticalDistortion", "p": 0.85},
                          {"op": "GaussNoise", "p": 0.85}]},
  {"op": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
  {"op": "ToTensorV2"}])";

Image gradient(int h, int w) {
  Image img(h, w, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.at(y, x, c) = static_cast<uint8_t>((x * 3 + y * 5 + c * 40) & 255);
  return img;
}

std::string temp_file(const std::string& name, const std::string& text) {
  std::string p = (fs::temp_directory_path() / ("ember_cfg_" + std::to_string(getpid()) + "_" + name)).string();
  std::ofstream(p) << text;
  return p;
}

TEST(PipelineConfig, SeedPipelineRunsAndIsReproducible) {
  Pipeline p = parse_pipeline(json::parse(kSeedPipeline));
  Image img = gradient(300, 400);
  Rng a(7, 1), b(7, 1), c(8, 1);
  Tensor x = p(img, a), y = p(img, b), z = p(img, c);
  EXPECT_EQ(x.shape(), (Shape{3, 224, 224}));
  EXPECT_EQ(x.dtype(), DType::Float32);
  EXPECT_EQ(relative_error(x, y), 0.0);
  EXPECT_GT(relative_error(x, z), 0.0);
}

// Pipeline::run(const Image&) lends the image to the first op instead of
// copying it: the caller's image is unchanged and the result is the one
// run(Image&&) gives; with no op run the result is a copy of the input.
TEST(PipelineConfig, LentImageIsReadNotChanged) {
  Image img(6, 7, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 37);
  const Image before = img;
  Pipeline p = parse_pipeline(json::parse(R"([{"op": "HorizontalFlip", "p": 1}, {"op": "VerticalFlip", "p": 1}])"), "test");
  Rng r1(4), r2(4);
  Sample lent = p.run(img, r1), owned = p.run(Image(img), r2);
  EXPECT_EQ(img.pixels, before.pixels);
  EXPECT_EQ(lent.image.pixels, owned.image.pixels);
  EXPECT_EQ(lent.lent, nullptr);
  Pipeline none = parse_pipeline(json::parse(R"([{"op": "HorizontalFlip", "p": 0}])"), "test");
  Rng r3(4);
  Sample copy = none.run(img, r3);
  EXPECT_EQ(copy.image.pixels, before.pixels);
  EXPECT_EQ(copy.lent, nullptr);
}

TEST(PipelineConfig, FileShapesJsonAndYaml) {
  const std::string list = temp_file("list.json", kSeedPipeline);
  const std::string split = temp_file("split.json", std::string(R"({"train": )") + kSeedPipeline + R"(, "val": [{"op": "CenterCrop", "height": 10, "width": 10}]})");
  const std::string trainer = temp_file("trainer.json", std::string(R"({"model": "resnet18", "augment": {"train": )") + kSeedPipeline + "}}");
  const std::string yaml = temp_file("p.yaml", R"(
train:
  - {op: Resize, height: 64, width: 48}
  - op: OneOf
    p: 1
    ops:
      - {op: GaussianBlur, blur_limit: [3, 5]}
      - {op: GaussNoise, var_limit: 20}
  - {op: Normalize, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}
  - op: ToTensor
)");
  Image img = gradient(100, 120);
  for (const std::string& f : {list, split, trainer}) {
    Rng r(1);
    EXPECT_EQ(load_pipeline(f)(img, r).shape(), (Shape{3, 224, 224})) << f;
  }
  Rng r(1);
  EXPECT_EQ(load_pipeline(split, "val")(img, r).shape(), (Shape{10, 10, 3}));
  EXPECT_EQ(load_pipeline(yaml)(img, r).shape(), (Shape{3, 64, 48}));
  EXPECT_EQ(load_pipeline(list, "val")(img, r).shape(), (Shape{3, 224, 224}));  // a bare list serves every split
  expect_error([&] { load_pipeline(split, "test"); }, {"split.json", "\"test\""});
  for (const std::string& f : {list, split, trainer, yaml}) fs::remove(f);
}

TEST(PipelineConfig, ErrorsNameOpParameterAndFile) {
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "Blurr"}])"), "my.json"); }, {"my.json", "unknown op", "Blurr"});
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "Resize", "height": 5, "width": 5, "heigth": 3}])"), "my.json"); },
               {"my.json", "Resize", "heigth", "unknown parameter"});
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "Resize", "width": 5}])"), "my.json"); }, {"Resize", "height", "required"});
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "HorizontalFlip", "p": 2}])"), "c.json"); }, {"HorizontalFlip", "\"p\""});
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "OneOf", "ops": [{"op": "Nope"}]}])"), "c.json"); }, {"Nope"});
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "Rotate", "limit": [10, -10]}])"), "c.json"); }, {"Rotate", "limit"});
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "Rotate", "border_mode": "mirror"}])"), "c.json"); }, {"Rotate", "border_mode", "mirror"});
  expect_error([] { parse_pipeline(json::parse(R"({"op": "Resize"})"), "c.json"); }, {"c.json", "list"});
  const std::string bad = temp_file("bad.json", "[{\"op\": ");
  expect_error([&] { load_pipeline(bad); }, {"bad.json", "not valid JSON"});
  fs::remove(bad);
  expect_error([] { load_pipeline("/nonexistent/x.json"); }, {"/nonexistent/x.json", "cannot open"});
  // An op that needs 8-bit pixels after Normalize: the error says what to do.
  Pipeline p = parse_pipeline(json::parse(R"([{"op": "Normalize"}, {"op": "HorizontalFlip", "p": 1}])"));
  Rng r;
  expect_error([&] { p(gradient(4, 4), r); }, {"HorizontalFlip", "Normalize"});
}

TEST(PipelineConfig, ProbabilitiesOneOfSomeOf) {
  Image img = gradient(8, 8);
  Image flipped = hflip(img);
  auto count = [&](const char* cfg, auto pred) {
    Pipeline p = parse_pipeline(json::parse(cfg));
    int n = 0;
    for (int i = 0; i < 2000; ++i) {
      Rng r(3, static_cast<uint64_t>(i));
      n += pred(p.run(img, r).image);
    }
    return n;
  };
  int flips = count(R"([{"op": "HorizontalFlip", "p": 0.3}])", [&](const Image& o) { return o.pixels == flipped.pixels; });
  EXPECT_NEAR(flips, 600, 80);
  // OneOf with p=1 runs exactly one child, weighted by the children's p.
  int first = count(R"([{"op": "OneOf", "p": 1, "ops": [{"op": "HorizontalFlip", "p": 0.75}, {"op": "VerticalFlip", "p": 0.25}]}])",
                    [&](const Image& o) { return o.pixels == flipped.pixels; });
  EXPECT_NEAR(first, 1500, 90);
  // SomeOf n=2 of three: both flips together in 1/3 of draws.
  Image both = vflip(flipped);
  int two = count(R"([{"op": "SomeOf", "n": 2, "ops": [{"op": "HorizontalFlip", "p": 1}, {"op": "VerticalFlip", "p": 1},
                     {"op": "Grayscale", "num_output_channels": 3}]}])",
                  [&](const Image& o) { return o.pixels == both.pixels; });
  EXPECT_NEAR(two, 667, 80);
}

TEST(PipelineConfig, KerasImageDataGenerator) {
  Pipeline p = parse_pipeline(json::parse(R"([{"op": "ImageDataGenerator", "rotation_range": 40, "width_shift_range": 0.2,
      "height_shift_range": 0.2, "shear_range": 0.2, "zoom_range": 0.2, "horizontal_flip": true, "rescale": 0.00392156862745098}])"));
  Rng r(2);
  Tensor t = p(gradient(150, 150), r);
  EXPECT_EQ(t.shape(), (Shape{150, 150, 3}));
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_LE(t.to_vector<float>()[0], 1.0f);
  expect_error([] { parse_pipeline(json::parse(R"([{"op": "ImageDataGenerator", "featurewise_center": true}])"), "k.json"); },
               {"ImageDataGenerator", "featurewise_center"});
}

}  // namespace
}  // namespace ember::test
