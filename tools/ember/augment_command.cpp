// `ember augment`: shows what an augmentation pipeline does. For each input
// image it writes --count augmented versions as PNG (DIR/<name>_<k>.png) and
// one grid of all of them (DIR/grid.png: a row per image, the original
// first). Previews show the 8-bit image before the pipeline's final
// Normalize / Rescale / ToTensor ops; a float result from a nested tensor
// op is shown rescaled to its own min..max.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "data/augment/resize.h"
#include "data/augment/transform.h"
#include "data/decode.h"
#include "data/encode.h"
#include "data/pipeline_config.h"
#include "engine/error.h"
#include "tools/ember/commands.h"

namespace ember::cli {
namespace {

struct AugmentOptions {
  std::string config, out, split = "train";
  std::vector<std::string> images;
  uint64_t seed = 0;
  int count = 8;
};

bool is_tensor_op(const std::string& name) {
  return name == "Normalize" || name == "Rescale" || name == "ToTensor" || name == "ToTensorV2";
}

// The float tensor [H, W, C] or [C, H, W] as an 8-bit image, rescaled.
Image preview_of(Sample s) {
  if (!s.is_tensor()) return std::move(s.image);
  Tensor t = s.chw ? s.tensor.permute({1, 2, 0}).contiguous() : s.tensor.contiguous();
  std::vector<float> v = t.to(DType::Float32).to_vector<float>();
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const float a = *lo, span = std::max(*hi - *lo, 1e-12f);
  Image img(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), static_cast<int>(t.size(2)));
  for (size_t i = 0; i < v.size(); ++i) img.pixels[i] = static_cast<uint8_t>(std::lrint((v[i] - a) / span * 255));
  return img;
}

int run_augment(const AugmentOptions& o) {
  namespace fs = std::filesystem;
  Pipeline full = load_pipeline(o.config, o.split);
  std::vector<TransformPtr> ops = full.root().ops();
  size_t stripped = 0;
  while (!ops.empty() && is_tensor_op(ops.back()->name())) {
    ops.pop_back();
    ++stripped;
  }
  Pipeline preview(std::make_shared<Compose>(ops, 1.0));
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) fail("augment", o.out, ": cannot create the folder (", ec.message(), ")");
  std::vector<Image> cells;
  int channels = 0;
  for (size_t i = 0; i < o.images.size(); ++i) {
    Image img = read_image(o.images[i]);
    const std::string stem = fs::path(o.images[i]).stem().string();
    std::vector<Image> row{img};
    for (int k = 0; k < o.count; ++k) {
      Rng rng(o.seed, static_cast<uint64_t>(i) * static_cast<uint64_t>(o.count) + static_cast<uint64_t>(k));
      Image out;
      try {
        out = preview_of(preview.run(img, rng));
      } catch (const Error& e) {
        fail("augment", o.images[i], ": ", e.what());
      }
      const std::string path = (fs::path(o.out) / (stem + "_" + std::to_string(k) + ".png")).string();
      write_png(path, out);
      row.push_back(std::move(out));
    }
    // The original, scaled to fit the augmented versions' size.
    int cell_h = 1, cell_w = 1;
    for (size_t r = 1; r < row.size(); ++r) cell_h = std::max(cell_h, row[r].height), cell_w = std::max(cell_w, row[r].width);
    const double s = std::min(static_cast<double>(cell_h) / img.height, static_cast<double>(cell_w) / img.width);
    row[0] = resize(img, std::max(1, static_cast<int>(img.height * s)), std::max(1, static_cast<int>(img.width * s)));
    for (Image& r : row) {
      if (channels == 0) channels = r.channels;
      cells.push_back(r.channels == channels ? std::move(r) : convert_channels(r, channels));
    }
    std::printf("%s: %d augmented versions in %s\n", o.images[i].c_str(), o.count, o.out.c_str());
  }
  const std::string grid = (fs::path(o.out) / "grid.png").string();
  write_png(grid, make_grid(cells, o.count + 1));
  std::printf("grid (original first, one row per image): %s\n", grid.c_str());
  if (stripped > 0)
    std::printf("previews show the images before the last %zu tensor op(s) (Normalize/Rescale/ToTensor)\n", stripped);
  return 0;
}

}  // namespace

void add_augment_command(CLI::App& app) {
  auto o = std::make_shared<AugmentOptions>();
  CLI::App* cmd = app.add_subcommand("augment", "Write augmented versions of images (PNG) and a grid of them");
  cmd->add_option("--config", o->config, "Pipeline config (JSON or YAML): a list of ops, {\"train\": [...]}, "
                                         "or a trainer config with \"augment\"")->required();
  cmd->add_option("--split", o->split, "Which pipeline of the config")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--count", o->count, "Augmented versions per image")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--out", o->out, "Output folder")->required();
  cmd->add_option("images", o->images, "Input images (JPEG, PNG, BMP)")->required();
  cmd->callback([o] { run_augment(*o); });
}

}  // namespace ember::cli
