// `ember eval`: accuracy, top-5, per-class accuracy and the confusion matrix
// (a table, and a PNG with --out) of a trained model on a labelled folder.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/loader.h"
#include "engine/autocast.h"
#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "layers/loss.h"
#include "tools/ember/commands.h"
#include "tools/lib/plot.h"
#include "tools/train/data_setup.h"
#include "tools/train/evaluate.h"
#include "tools/train/trained_model.h"

namespace ember::cli {

void add_eval_command(CLI::App& app) {
  struct Options {
    std::string checkpoint, model, weights, manifest, data, out, device = "cpu", precision = "float32";
    int64_t batch_size = 32, workers = 2, resize = 0, crop = 0;
    std::vector<double> mean, std;
    bool grayscale = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a trained model on a labelled image folder");
  cmd->add_option("--checkpoint", o->checkpoint, "A checkpoint written by `ember train` (best.ckpt, last.ckpt)");
  cmd->add_option("--model", o->model, "Model name, with --weights (instead of --checkpoint)");
  cmd->add_option("--weights", o->weights, "Weights .npz/.onnx for --model");
  cmd->add_option("--manifest", o->manifest, "Manifest JSON of the weights (default: the .json beside them)");
  cmd->add_option("--data", o->data, "Folder with a subfolder per class (or a .csv list)")->required();
  cmd->add_option("--out", o->out, "Folder for report.txt and confusion_matrix.png (default: print only)");
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--workers", o->workers, "Loader threads")->capture_default_str();
  cmd->add_option("--resize", o->resize, "Resize the shorter side to this (--weights; default: manifest or 256)");
  cmd->add_option("--crop", o->crop, "Centre crop size (--weights; default: manifest or 224)");
  cmd->add_option("--mean", o->mean, "Normalisation mean (--weights; default: manifest or ImageNet's)")->expected(3);
  cmd->add_option("--std", o->std, "Normalisation std (--weights; default: manifest or ImageNet's)")->expected(3);
  cmd->add_flag("--grayscale", o->grayscale, "Decode images as grey (single-channel models)");
  cmd->add_option("--precision", o->precision, "float32, or float16 / bfloat16 under autocast")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}))
      ->capture_default_str();
  cmd->callback([o] {
    Device device = Device::parse(o->device);
    EMBER_CHECK(!o->checkpoint.empty() || (!o->model.empty() && !o->weights.empty()), "eval",
                "give --checkpoint, or --model with --weights");
    TrainedModel t = !o->checkpoint.empty()
                         ? load_from_checkpoint(o->checkpoint, device)
                         : load_from_weights(o->model, o->weights, o->manifest,
                                             {o->resize, o->crop, o->mean, o->std, ""}, device);
    DatasetPtr data = make_dataset(o->data, "--data", o->grayscale);
    std::vector<std::string> names = data->class_names();
    int64_t classes = static_cast<int64_t>(std::max(names.size(), class_counts(*data).size()));
    if (!t.class_names.empty()) {
      EMBER_CHECK(t.class_names.size() == names.size() || names.empty(), "eval", o->data, " has ", names.size(),
                  " classes but the model knows ", t.class_names.size());
      classes = static_cast<int64_t>(t.class_names.size());
      names = t.class_names;
    }
    LoaderOptions lo;
    lo.batch_size = o->batch_size;
    lo.shuffle = false;
    lo.num_workers = static_cast<int>(o->workers);
    lo.device = device;
    DataLoader loader(data, t.pipeline, lo);
    CrossEntropyLoss ce;
    BCEWithLogitsLoss bce;
    AutocastGuard autocast(autocast_dtype_of(o->precision, "--precision"));
    // A one-output model was trained with BCE on two classes.
    bool binary = false;
    {
      NoGradGuard no_grad;
      loader.start_epoch(0);
      if (auto b = loader.next()) binary = (*t.model)(b->images.narrow(0, 0, 1)).size(1) == 1;
    }
    std::printf("evaluating %s on %s (%lld images, %lld classes)\n", t.description.c_str(), o->data.c_str(),
                static_cast<long long>(data->size()), static_cast<long long>(classes));
    EvalResult r = evaluate(*t.model, loader, binary ? static_cast<const Loss&>(bce) : ce, classes, names, "eval");
    std::string table = r.metrics.table();
    std::printf("\n%sloss: %.4f\naccuracy: %.2f%%\n", table.c_str(), r.loss, 100.0 * r.metrics.top1());
    if (!o->out.empty()) {
      std::filesystem::create_directories(o->out);
      std::ofstream(o->out + "/report.txt") << table << "loss: " << r.loss << '\n';
      ConfusionChart chart;
      chart.counts = r.metrics.confusion_matrix();
      chart.class_names = names;
      write_confusion_matrix(o->out + "/confusion_matrix.png", chart);
      std::printf("wrote %s/report.txt and %s/confusion_matrix.png\n", o->out.c_str(), o->out.c_str());
    }
  });
}

}  // namespace ember::cli
