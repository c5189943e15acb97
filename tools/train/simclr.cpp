#include "tools/train/simclr.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/loader.h"
#include "data/pipeline_config.h"
#include "engine/ember.h"
#include "layers/layers.h"
#include "models/registry.h"
#include "tools/lib/csv_log.h"
#include "tools/lib/progress_bar.h"
#include "tools/train/data_setup.h"
#include "tools/train/model_setup.h"
#include "tools/train/optim_setup.h"
#include "tools/train/trainer.h"
#include "weights/npz.h"

namespace ember {

using json = nlohmann::json;

namespace {

// Runs the view pipeline twice on one image and stacks the two [C, H, W]
// results into one [2C, H, W] tensor, so the loader batches both views.
class TwoViews final : public Transform {
 public:
  explicit TwoViews(Pipeline view) : Transform("TwoViews", 1.0), view_(std::move(view)) {}
  void apply(Sample& s, Rng& rng) const override {
    const Image& image = image_of(s);
    Tensor a = view_(image, rng), b = view_(image, rng);
    EMBER_CHECK(a.dim() == 3 && a.shape() == b.shape() && a.is_floating_point(), "simclr",
                "the view pipeline must end in ToTensor and give one shape, got ", a.shape(), " and ", b.shape());
    s.set_tensor(cat({a, b}, 0), true);
  }

 private:
  Pipeline view_;
};

// The default views of the source document: resized crop, flips, rotation,
// colour jitter, cutout, normalisation.
json default_views(int64_t size, const std::vector<double>& mean, const std::vector<double>& std) {
  int64_t hole = std::max<int64_t>(1, size / 4);
  return json::array({
      {{"op", "RandomResizedCrop"}, {"height", size}, {"width", size}, {"scale", {0.2, 1.0}}},
      {{"op", "HorizontalFlip"}, {"p", 0.5}},
      {{"op", "VerticalFlip"}, {"p", 0.2}},
      {{"op", "Rotate"}, {"limit", 30}, {"p", 0.5}},
      {{"op", "ColorJitter"}, {"brightness", 0.4}, {"contrast", 0.4}, {"saturation", 0.4}, {"hue", 0.1}, {"p", 0.8}},
      {{"op", "CoarseDropout"}, {"max_holes", 1}, {"max_height", hole}, {"max_width", hole}, {"p", 0.5}},
      {{"op", "Normalize"}, {"mean", mean}, {"std", std}},
      {{"op", "ToTensor"}},
  });
}

}  // namespace

int run_simclr(const TrainConfig& c) {
  EMBER_CHECK(c.get("model.head_from_classes").empty(), "config",
              "model.head_from_classes does not apply to task simclr: its classifier starts fresh on the pre-trained encoder");
  Device device = Device::parse(c.str("train.device"));
  manual_seed(static_cast<uint64_t>(c.i64("train.seed")));
  const ModelEntry& entry = model_entry(c.str("model.name"));
  int64_t size = c.i64("data.image_size") > 0 ? c.i64("data.image_size") : entry.default_size;
  TrainData data = build_train_data(c, size);
  std::vector<double> mean = c.get("data.mean").get<std::vector<double>>(), std = c.get("data.std").get<std::vector<double>>();
  if (c.flag("data.grayscale") && mean.size() == 3) mean = std = {0.5};
  json views = c.is_set("simclr.augment") ? c.get("simclr.augment") : default_views(size, mean, std);
  Pipeline two_views(std::make_shared<Compose>(
      std::vector<TransformPtr>{std::make_shared<TwoViews>(parse_pipeline(views, "simclr.augment"))}));

  // The encoder: the model with its head swapped for the identity.
  TrainConfig no_freeze = c;
  no_freeze.set("freeze.mode", "none", "simclr");
  no_freeze.set("model.new_head", false, "simclr");
  ModelSetup ms = build_model(no_freeze, data.num_classes);
  ModulePtr model = ms.model;
  const Linear* fc = head_linear(*model, entry.head);
  const int64_t features = fc ? fc->in_features : 0;
  EMBER_CHECK(features > 0, "simclr", "cannot find the feature size of ", entry.name, "'s head");
  model->replace_child(entry.head, std::make_shared<Identity>());
  const int64_t proj = c.i64("simclr.projection_dim");
  auto projection = std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Linear>(features, features), make_relu(), std::make_shared<Linear>(features, proj)});
  model->to(device);
  projection->to(device);

  std::string run = c.is_set("output.name") ? c.str("output.name") : "simclr-" + entry.name;
  std::string dir = c.str("output.dir") + "/" + run;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json") << c.to_json().dump(2) << '\n';
  std::printf("run folder: %s\nSimCLR pre-training of %s (%lld features -> %lld) on %lld images for %lld epochs\n",
              dir.c_str(), entry.name.c_str(), static_cast<long long>(features), static_cast<long long>(proj),
              static_cast<long long>(data.train->size()), static_cast<long long>(c.i64("simclr.epochs")));

  LoaderOptions lo;
  lo.batch_size = c.i64("data.batch_size");
  lo.num_workers = static_cast<int>(c.i64("data.workers"));
  lo.seed = static_cast<uint64_t>(c.i64("train.seed"));
  lo.device = device;
  lo.drop_last = true;  // NT-Xent wants full batches of negatives
  DataLoader loader(data.train, two_views, lo);
  EMBER_CHECK(loader.num_batches() > 0, "simclr", "fewer training images than one batch of ", lo.batch_size);

  std::vector<Tensor> params = model->parameters();
  for (const Tensor& p : projection->parameters()) params.push_back(p);
  std::unique_ptr<Optimizer> opt;
  if (c.str("optimizer.name") == "sgd") {
    opt = std::make_unique<SGD>(single_group(params, c.f64("optimizer.lr"), c.f64("optimizer.weight_decay")),
                                SgdOptions{c.f64("optimizer.momentum")});
  } else {
    opt = std::make_unique<Adam>(single_group(params, c.f64("optimizer.lr"), c.f64("optimizer.weight_decay")));
  }
  const MixedPrecision precision = build_mixed_precision(c);
  GradScaler scaler(precision.scaler);
  CsvLog csv(dir + "/simclr.csv");
  const double temperature = c.f64("simclr.temperature");
  for (int64_t epoch = 0; epoch < c.i64("simclr.epochs"); ++epoch) {
    model->train();
    projection->train();
    loader.start_epoch(epoch);
    ProgressBar bar("simclr " + std::to_string(epoch + 1) + "/" + std::to_string(c.i64("simclr.epochs")),
                    loader.num_batches());
    double sum_loss = 0;
    int64_t batches = 0;
    while (auto batch = loader.next()) {
      int64_t ch = batch->images.size(1) / 2;
      Tensor v1 = batch->images.narrow(1, 0, ch), v2 = batch->images.narrow(1, ch, ch);
      Tensor loss;
      {
        AutocastGuard autocast(precision.autocast);
        loss = nt_xent_loss((*projection)((*model)(v1)), (*projection)((*model)(v2)), temperature);
      }
      double l = loss.item();
      EMBER_CHECK(std::isfinite(l), "simclr", "the NT-Xent loss became ", l, " at epoch ", epoch + 1,
                  "; lower optimizer.lr");
      opt->zero_grad();
      scaler.scale(loss).backward();
      scaler.step(*opt);
      scaler.update();
      sum_loss += l;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", sum_loss / static_cast<double>(++batches));
      bar.update(batches, batch->labels.size(0), {{"nt-xent", buf}});
    }
    bar.finish();
    csv.log(epoch + 1, batches, {{"simclr_loss", sum_loss / static_cast<double>(batches)}});
    std::printf("simclr epoch %lld: NT-Xent loss %.4f\n", static_cast<long long>(epoch + 1),
                sum_loss / static_cast<double>(batches));
  }

  // Hand the encoder to the classifier: a fresh Linear head, saved with the encoder.
  model->replace_child(entry.head, std::make_shared<Linear>(features, data.num_classes));
  model->to(kCPU);
  std::string weights = dir + "/simclr_encoder.npz";
  save_npz(weights, model->state_dict());
  std::printf("saved the pre-trained encoder to %s\n", weights.c_str());
  std::string then = c.str("simclr.then");
  if (then == "none") return 0;
  EMBER_CHECK(then == "linear_probe" || then == "finetune", "config", "simclr.then must be linear_probe, finetune or none");
  TrainConfig next = c;
  next.set("task", "classify", "simclr");
  next.set("model.weights", weights, "simclr");
  next.set("model.new_head", false, "simclr");
  next.set("freeze.mode", then == "linear_probe" ? "backbone" : "none", "simclr");
  next.set("output.dir", dir, "simclr");
  next.set("output.name", then, "simclr");
  std::printf("\n%s on the labels:\n", then == "linear_probe" ? "linear probe (frozen encoder)" : "fine-tuning");
  return run_training(next);
}

}  // namespace ember
