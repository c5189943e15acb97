// `ember predict`: the top-K classes, with names and probabilities, for
// images or folders of images, from a trained checkpoint or from pretrained
// weights plus their manifest (preprocessing and class names).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "data/decode.h"
#include "engine/ember.h"
#include "tools/ember/commands.h"
#include "tools/train/trained_model.h"

namespace ember::cli {

namespace {

std::vector<std::string> expand_images(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    if (std::filesystem::is_directory(in)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::recursive_directory_iterator(in)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
        if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp")) {
          found.push_back(e.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      EMBER_CHECK(!found.empty(), "predict", "no images (.jpg, .jpeg, .png, .bmp) in ", in);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      EMBER_CHECK(std::filesystem::exists(in), "predict", in, " does not exist");
      files.push_back(in);
    }
  }
  return files;
}

}  // namespace

void add_predict_command(CLI::App& app) {
  struct Options {
    std::string checkpoint, model, weights, manifest, classes, device = "cpu", precision = "float32";
    std::vector<std::string> images;
    int64_t top = 5, resize = 0, crop = 0;
    std::vector<double> mean, std;
    bool grayscale = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("predict", "Top-K classes with probabilities for images or folders");
  cmd->add_option("images", o->images, "Image files or folders")->required();
  cmd->add_option("--checkpoint", o->checkpoint, "A checkpoint written by `ember train`");
  cmd->add_option("--model", o->model, "Model name, with --weights (instead of --checkpoint)");
  cmd->add_option("--weights", o->weights, "Weights .npz/.onnx for --model");
  cmd->add_option("--manifest", o->manifest, "Manifest JSON of the weights (default: the .json beside them)");
  cmd->add_option("--classes", o->classes, "Class names, one per line (default: from the manifest)");
  cmd->add_option("--top", o->top, "How many classes to show")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--resize", o->resize, "Resize the shorter side to this (default: manifest or 256)");
  cmd->add_option("--crop", o->crop, "Centre crop size (default: manifest or 224)");
  cmd->add_option("--mean", o->mean, "Normalisation mean (default: manifest or ImageNet's)")->expected(3);
  cmd->add_option("--std", o->std, "Normalisation std (default: manifest or ImageNet's)")->expected(3);
  cmd->add_flag("--grayscale", o->grayscale, "Decode images as grey");
  cmd->add_option("--precision", o->precision, "float32, or float16 / bfloat16 under autocast")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}))
      ->capture_default_str();
  cmd->callback([o] {
    Device device = Device::parse(o->device);
    EMBER_CHECK(!o->checkpoint.empty() || (!o->model.empty() && !o->weights.empty()), "predict",
                "give --checkpoint, or --model with --weights");
    TrainedModel t = !o->checkpoint.empty()
                         ? load_from_checkpoint(o->checkpoint, device)
                         : load_from_weights(o->model, o->weights, o->manifest,
                                             {o->resize, o->crop, o->mean, o->std, o->classes}, device);
    DecodeOptions decode;
    decode.channels = o->grayscale ? 1 : 3;
    NoGradGuard no_grad;
    AutocastGuard autocast(autocast_dtype_of(o->precision, "--precision"));
    for (const std::string& path : expand_images(o->images)) {
      Rng rng(0, 0);
      Tensor x = t.pipeline(read_image(path, decode), rng).unsqueeze(0).to(device);
      Tensor logits = (*t.model)(x);
      // One sigmoid output (BCE training): the two-class probabilities are (1 - s, s).
      Tensor probs = logits.size(1) == 1 ? cat({1.0 - sigmoid(logits), sigmoid(logits)}, 1) : softmax(logits, 1);
      std::vector<float> p = probs.to_vector<float>();
      std::vector<int64_t> order(p.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
      int64_t k = std::min<int64_t>(o->top, static_cast<int64_t>(p.size()));
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int64_t a, int64_t b) { return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)]; });
      std::printf("%s\n", path.c_str());
      for (int64_t i = 0; i < k; ++i) {
        int64_t c = order[static_cast<size_t>(i)];
        std::string name = c < static_cast<int64_t>(t.class_names.size()) ? t.class_names[static_cast<size_t>(c)]
                                                                           : "class " + std::to_string(c);
        std::printf("  %lld. %-4lld %-36s %7.3f%%\n", static_cast<long long>(i + 1), static_cast<long long>(c),
                    name.c_str(), 100.0 * p[static_cast<size_t>(c)]);
      }
    }
  });
}

}  // namespace ember::cli
