// `ember train [CONFIG] [flags]`: trains a classifier as the config (JSON or
// YAML) and the flags say; flags override the file. Every option is in
// `ember train --help-config` with its default.
#include <cstdio>

#include "data/pipeline_config.h"
#include "engine/error.h"
#include "tools/ember/commands.h"
#include "tools/train/train_config.h"
#include "tools/train/trainer.h"

namespace ember::cli {

namespace {

struct TrainFlags {
  std::string config_file;
  std::vector<std::string> sets;
  std::string model, data, val, test, device, precision, output, name, resume, weights, task;
  int64_t epochs = -1, batch_size = -1, seed = -1, workers = -1;
  double lr = -1, val_split = -1;
  bool new_head = false, help_config = false;
};

TrainConfig make_config(const TrainFlags& f) {
  TrainConfig c;
  if (!f.config_file.empty()) c.merge(read_config_file(f.config_file), f.config_file);
  auto flag = [&](const char* key, const nlohmann::json& v, const char* option) { c.set(key, v, option); };
  if (!f.task.empty()) flag("task", f.task, "--task");
  if (!f.model.empty()) flag("model.name", f.model, "--model");
  if (!f.weights.empty()) flag("model.weights", f.weights, "--weights");
  if (f.new_head) flag("model.new_head", true, "--new-head");
  if (!f.data.empty()) flag("data.train", f.data, "--data");
  if (!f.val.empty()) flag("data.val", f.val, "--val");
  if (!f.test.empty()) flag("data.test", f.test, "--test");
  if (f.val_split >= 0) flag("data.val_split", f.val_split, "--val-split");
  if (f.batch_size > 0) flag("data.batch_size", f.batch_size, "--batch-size");
  if (f.workers >= 0) flag("data.workers", f.workers, "--workers");
  if (f.lr > 0) flag("optimizer.lr", f.lr, "--lr");
  if (f.epochs > 0) flag("train.epochs", f.epochs, "--epochs");
  if (f.seed >= 0) flag("train.seed", f.seed, "--seed");
  if (!f.device.empty()) flag("train.device", f.device, "--device");
  if (!f.precision.empty()) flag("train.precision", f.precision, "--precision");
  if (!f.resume.empty()) flag("train.resume", f.resume, "--resume");
  if (!f.output.empty()) flag("output.dir", f.output, "--output");
  if (!f.name.empty()) flag("output.name", f.name, "--name");
  for (const std::string& s : f.sets) c.set(s);
  return c;
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand("train", "Train or fine-tune a classifier (config file and/or flags)");
  cmd->add_option("config", f->config_file, "Config file (.json, .yaml); flags below override it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", f->sets, "Set any config option: --set optimizer.lr=3e-4 (repeatable)");
  cmd->add_option("--task", f->task, "classify or simclr (default classify)");
  cmd->add_option("--model", f->model, "Model name, see `ember models` (default resnet18)");
  cmd->add_option("--weights", f->weights, "Pretrained weights .npz or .onnx (default none)");
  cmd->add_flag("--new-head", f->new_head, "Replace the classifier with Dropout + Linear(num_classes)");
  cmd->add_option("--data", f->data, "Training data folder (a subfolder per class)");
  cmd->add_option("--val", f->val, "Validation folder (default: none, or --val-split)");
  cmd->add_option("--val-split", f->val_split, "Fraction of the training data for validation (default 0)");
  cmd->add_option("--test", f->test, "Test folder evaluated at the end (default none)");
  cmd->add_option("--epochs", f->epochs, "Training epochs (default 10)");
  cmd->add_option("--batch-size", f->batch_size, "Batch size (default 32)");
  cmd->add_option("--workers", f->workers, "Loader threads (default 2)");
  cmd->add_option("--lr", f->lr, "Base learning rate (default 1e-3)");
  cmd->add_option("--seed", f->seed, "Random seed (default 0)");
  cmd->add_option("--device", f->device, "cpu, cuda or cuda:N (default cpu)");
  cmd->add_option("--precision", f->precision, "float32, or float16 / bfloat16 mixed precision (default float32)");
  cmd->add_option("--resume", f->resume, "Resume from a checkpoint (a run's last.ckpt)");
  cmd->add_option("--output", f->output, "Folder for run folders (default runs)");
  cmd->add_option("--name", f->name, "Run folder name (default <model>-<date>-<time>)");
  cmd->add_flag("--help-config", f->help_config, "Print every config option with its default and exit");
  cmd->footer("Config options (JSON/YAML sections, or --set key=value):\n" + train_config_reference());
  cmd->callback([f] {
    if (f->help_config) {
      std::fputs(train_config_reference().c_str(), stdout);
      return;
    }
    int code = run_training(make_config(*f));
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace ember::cli
