#include "tools/train/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>

#include "engine/backend.h"
#include "engine/backend_config.h"
#include "engine/ember.h"
#include "models/registry.h"
#include "tools/lib/csv_log.h"
#include "tools/lib/plot.h"
#include "tools/lib/progress_bar.h"
#include "tools/lib/tensorboard_writer.h"
#include "tools/train/data_setup.h"
#include "tools/train/evaluate.h"
#include "tools/train/graphed_step.h"
#include "tools/train/model_setup.h"
#include "tools/train/optim_setup.h"
#include "tools/train/simclr.h"
#include "weights/checkpoint.h"

namespace ember {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Ctrl-C: the first press asks the loop to stop after the current step; a
// second press kills the process as usual.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  if (g_interrupted.exchange(true)) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&t));
  return buf;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Per-epoch history for the plots, saved in checkpoints so a resumed run keeps its curves.
struct History {
  std::vector<double> epoch, train_loss, train_acc, val_loss, val_acc, lr;
  json to_json() const {
    return {{"epoch", epoch}, {"train_loss", train_loss}, {"train_acc", train_acc},
            {"val_loss", val_loss}, {"val_acc", val_acc}, {"lr", lr}};
  }
  static History from_json(const json& j) {
    History h;
    if (!j.is_object()) return h;
    auto get = [&](const char* k) { return j.contains(k) ? j[k].get<std::vector<double>>() : std::vector<double>{}; };
    h.epoch = get("epoch");
    h.train_loss = get("train_loss");
    h.train_acc = get("train_acc");
    h.val_loss = get("val_loss");
    h.val_acc = get("val_acc");
    h.lr = get("lr");
    return h;
  }
};

void draw_curves(const std::string& dir, const History& h, bool has_val) {
  LineChart loss{"Loss", "epoch", "loss", {{"train", h.epoch, h.train_loss}}};
  LineChart acc{"Accuracy", "epoch", "accuracy (%)", {{"train", h.epoch, h.train_acc}}};
  if (has_val) {
    loss.series.push_back({"validation", h.epoch, h.val_loss});
    acc.series.push_back({"validation", h.epoch, h.val_acc});
  }
  write_line_chart(dir + "/loss.png", loss);
  write_line_chart(dir + "/accuracy.png", acc);
}

// A metric's direction check: is `value` better than `best`?
bool improved(double value, double best, const std::string& mode) {
  return mode == "min" ? value < best : value > best;
}

class TrainingRun {
 public:
  explicit TrainingRun(const TrainConfig& c) : c_(c) {}
  int run();

 private:
  void setup();
  // One epoch of training; returns false when interrupted or the loss went bad.
  bool train_epoch(int64_t epoch, double& loss, double& acc);
  void save(const std::string& name, int64_t epoch_done);
  double metric(const std::string& name) const;
  void final_report();

  TrainConfig c_;
  Device device_;
  std::string dir_;
  TrainData data_;
  ModelSetup ms_;
  std::unique_ptr<DataLoader> train_loader_, val_loader_, test_loader_;
  std::unique_ptr<Optimizer> opt_;
  std::unique_ptr<LRScheduler> sched_;
  MixedPrecision precision_;
  std::unique_ptr<GradScaler> scaler_;  // float16's loss scaling; passes through otherwise
  std::unique_ptr<Loss> loss_;
  std::unique_ptr<GraphedTrainStep> graphed_;  // train.cuda_graphs
  std::unique_ptr<CsvLog> csv_;
  std::unique_ptr<TensorBoardWriter> tb_;
  History history_;
  std::map<std::string, double> last_;  // this epoch's metrics
  int64_t step_ = 0, start_epoch_ = 0;
  double best_ = NAN;
  bool stopped_bad_loss_ = false;
};

void TrainingRun::setup() {
  device_ = Device::parse(c_.str("train.device"));
  if (device_.is_cuda()) backend(device_);  // fails clearly without a GPU
  backend_config().deterministic = c_.flag("train.deterministic");
  precision_ = build_mixed_precision(c_);
  scaler_ = std::make_unique<GradScaler>(precision_.scaler);
  const uint64_t seed = static_cast<uint64_t>(c_.i64("train.seed"));
  manual_seed(seed);

  const ModelEntry& entry = model_entry(c_.str("model.name"));
  int64_t size = c_.i64("data.image_size") > 0 ? c_.i64("data.image_size") : entry.default_size;
  data_ = build_train_data(c_, size);
  bool bce = c_.str("loss.name") == "bce_with_logits";
  EMBER_CHECK(!bce || data_.num_classes == 2, "config", "loss bce_with_logits needs 2 classes, the data has ",
              data_.num_classes);
  ms_ = build_model(c_, bce ? 1 : data_.num_classes);
  ms_.model->to(device_);

  LoaderOptions lo;
  lo.batch_size = c_.i64("data.batch_size");
  lo.num_workers = static_cast<int>(c_.i64("data.workers"));
  lo.seed = seed;
  lo.device = device_;
  lo.on_bad_image = c_.str("data.on_bad_image") == "skip" ? BadImagePolicy::Skip : BadImagePolicy::Error;
  LoaderOptions eval_lo = lo;
  eval_lo.shuffle = false;
  lo.drop_last = c_.flag("data.drop_last");
  train_loader_ = std::make_unique<DataLoader>(data_.train, data_.train_pipeline, lo);
  if (data_.val) val_loader_ = std::make_unique<DataLoader>(data_.val, data_.eval_pipeline, eval_lo);
  if (data_.test) test_loader_ = std::make_unique<DataLoader>(data_.test, data_.eval_pipeline, eval_lo);

  opt_ = build_optimizer(*ms_.model, c_);
  sched_ = build_scheduler(*opt_, c_, c_.i64("train.epochs"), train_loader_->num_batches());
  loss_ = build_loss(c_, data_.train_counts, data_.num_classes);
  if (auto* ce = dynamic_cast<CrossEntropyLoss*>(loss_.get()); ce && ce->weight.defined()) {
    ce->weight = ce->weight.to(device_);
  }
  if (c_.flag("train.cuda_graphs")) {
    graphed_ = std::make_unique<GraphedTrainStep>(*ms_.model, *loss_, *opt_, *scaler_, precision_.autocast, device_);
  }

  std::string name = c_.is_set("output.name") ? c_.str("output.name") : c_.str("model.name") + "-" + timestamp();
  dir_ = c_.str("output.dir") + "/" + name;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  EMBER_CHECK(!ec, "train", "cannot create the run folder ", dir_, ": ", ec.message());
  std::ofstream(dir_ + "/config.json") << c_.to_json().dump(2) << '\n';
  bool resuming = c_.is_set("train.resume");
  csv_ = std::make_unique<CsvLog>(dir_ + "/metrics.csv", /*append=*/resuming);
  tb_ = std::make_unique<TensorBoardWriter>(dir_ + "/tensorboard");

  if (resuming) {
    std::string path = c_.str("train.resume");
    Checkpoint ck = load_checkpoint(path);
    restore_checkpoint(ck, *ms_.model, opt_.get(), sched_.get(), path);
    CheckpointInfo info = ck.info();
    start_epoch_ = info.epoch;
    step_ = info.step;
    default_generator().set_state(info.generator);
    history_ = History::from_json(info.extra.value("history", json()));
    if (scaler_->enabled() && info.extra.contains("grad_scaler")) {
      scaler_->load_state_dict(info.extra["grad_scaler"].get<std::map<std::string, double>>());
    }
    best_ = info.extra.contains("best") && info.extra["best"].is_number() ? info.extra["best"].get<double>() : NAN;
    std::printf("resumed from %s at epoch %lld, step %lld\n", path.c_str(), static_cast<long long>(start_epoch_),
                static_cast<long long>(step_));
  }

  std::printf("run folder: %s\n", dir_.c_str());
  std::printf("model %s on %s: %s", c_.str("model.name").c_str(), device_.str().c_str(), ms_.report.c_str());
  std::printf("data: %lld training, %lld validation, %lld test images, %lld classes, batch %lld\n",
              static_cast<long long>(data_.train->size()), static_cast<long long>(data_.val ? data_.val->size() : 0),
              static_cast<long long>(data_.test ? data_.test->size() : 0), static_cast<long long>(data_.num_classes),
              static_cast<long long>(c_.i64("data.batch_size")));
  std::printf("optimizer %s (%zu parameter groups), scheduler %s, loss %s\n", opt_->name().c_str(),
              opt_->param_groups().size(), sched_ ? sched_->name().c_str() : "none", loss_->name().c_str());
}

bool TrainingRun::train_epoch(int64_t epoch, double& loss_out, double& acc_out) {
  Module& model = *ms_.model;
  model.train();
  keep_frozen_batchnorms_in_eval(ms_.frozen_batchnorms);
  train_loader_->start_epoch(epoch);
  const int64_t epochs = c_.i64("train.epochs");
  ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs), train_loader_->num_batches());
  const double clip = c_.f64("train.grad_clip");
  const int64_t log_every = std::max<int64_t>(1, c_.i64("train.log_every"));
  std::vector<Tensor> params = model.parameters();
  double loss_sum = 0;
  int64_t correct = 0, seen = 0, batches = 0;
  // Correct predictions add up where the batch is; on a GPU they are read
  // back every log_every steps, not every step (each read waits for the GPU).
  Tensor correct_sum;
  while (auto batch = train_loader_->next()) {
    Tensor out, loss;
    if (graphed_) {  // forward and backward already done, replayed as a CUDA graph
      std::tie(out, loss) = graphed_->run(batch->images, batch->labels);
    } else {
      AutocastGuard autocast(precision_.autocast);
      out = model(batch->images);
      loss = (*loss_)(out, batch->labels);
    }
    double l = loss.item();
    if (!std::isfinite(l)) {
      const std::string last = dir_ + "/last.ckpt";
      const std::string kept = std::filesystem::exists(last)
                                   ? "The last good checkpoint is " + last
                                   : std::string("No checkpoint was written yet (the first epoch did not finish)");
      std::fprintf(stderr,
                   "\nember: error: the training loss became %g at epoch %lld, step %lld; stopping. %s "
                   "(lower the learning rate, or use train.grad_clip)\n",
                   l, static_cast<long long>(epoch + 1), static_cast<long long>(step_ + 1), kept.c_str());
      stopped_bad_loss_ = true;
      return false;
    }
    if (!graphed_) {
      opt_->zero_grad();
      scaler_->scale(loss).backward();
    }
    if (clip > 0) {
      scaler_->unscale_(*opt_);  // clip the true gradients, not the scaled ones
      clip_grad_norm_(params, clip);
    }
    scaler_->step(*opt_);  // skipped when float16 gradients overflowed
    scaler_->update();
    ++step_;
    if (sched_ && sched_->per_batch()) sched_->step();
    int64_t n = batch->labels.size(0);
    loss_sum += l * static_cast<double>(n);
    {
      NoGradGuard no_grad;
      Tensor hits = sum(eq(argmax(classification_logits(out.detach()), 1), batch->labels));
      correct_sum = correct_sum.defined() ? add(correct_sum, hits) : hits;
    }
    if (!device_.is_cuda() || step_ % log_every == 0) correct = correct_sum.item<int64_t>();
    seen += n;
    if (step_ % log_every == 0) {
      tb_->add_scalar("Loss/train_step", l, step_);
      csv_->log(epoch + 1, step_, {{"train_step_loss", l}});
    }
    bar.update(++batches, n,
               {{"loss", fmt("%.4f", loss_sum / static_cast<double>(seen))},
                {"acc", fmt("%.1f%%", 100.0 * static_cast<double>(correct) / static_cast<double>(seen))}});
    if (g_interrupted) break;
  }
  bar.finish();
  if (correct_sum.defined()) correct = correct_sum.item<int64_t>();
  EMBER_CHECK(seen > 0 || g_interrupted, "train", "the training loader produced no batch (is the dataset smaller than "
              "one batch with data.drop_last?)");
  loss_out = seen ? loss_sum / static_cast<double>(seen) : NAN;
  acc_out = seen ? 100.0 * static_cast<double>(correct) / static_cast<double>(seen) : NAN;
  return !g_interrupted;
}

void TrainingRun::save(const std::string& name, int64_t epoch_done) {
  CheckpointInfo info;
  info.epoch = epoch_done;
  info.step = step_;
  info.generator = default_generator().state();
  info.metrics = json(last_);
  info.extra = {{"model", c_.str("model.name")},
                {"num_classes", data_.num_classes},
                {"class_names", data_.class_names},
                {"head", ms_.head},
                {"new_head", c_.flag("model.new_head")},
                {"head_dropout", c_.f64("model.head_dropout")},
                {"history", history_.to_json()},
                {"grad_scaler", scaler_->state_dict()},
                {"best", std::isnan(best_) ? json() : json(best_)},
                {"config", c_.to_json()}};
  save_checkpoint(dir_ + "/" + name, *ms_.model, opt_.get(), sched_.get(), info);
}

double TrainingRun::metric(const std::string& name) const {
  auto it = last_.find(name);
  EMBER_CHECK(it != last_.end(), "train", "unknown metric '", name,
              "' (train_loss, train_accuracy, val_loss, val_accuracy)");
  return it->second;
}

void TrainingRun::final_report() {
  DataLoader* loader = test_loader_ ? test_loader_.get() : val_loader_.get();
  if (!loader) {
    std::printf("no test or validation data: skipping the final evaluation\n");
    return;
  }
  std::string what = test_loader_ ? "test" : "validation";
  if (fs::exists(dir_ + "/best.ckpt")) {
    restore_checkpoint(load_checkpoint(dir_ + "/best.ckpt"), *ms_.model, nullptr, nullptr, dir_ + "/best.ckpt");
    std::printf("evaluating best.ckpt on the %s data\n", what.c_str());
  }
  EvalResult r = evaluate(*ms_.model, *loader, *loss_, data_.num_classes, data_.class_names, what);
  std::string table = r.metrics.table();
  std::ofstream report(dir_ + "/report.txt");
  report << what << " loss: " << r.loss << "\n" << table;
  ConfusionChart chart;
  chart.title = "Confusion matrix (" + what + ")";
  chart.counts = r.metrics.confusion_matrix();
  chart.class_names = data_.class_names;
  write_confusion_matrix(dir_ + "/confusion_matrix.png", chart);
  std::printf("\n%s", table.c_str());
  std::printf("%s loss: %.4f, top-%lld accuracy: %.2f%%\n", what.c_str(), r.loss,
              static_cast<long long>(std::min<int64_t>(r.metrics.k(), data_.num_classes)), 100.0 * r.metrics.topk());
  std::printf("%s accuracy: %.2f%%\n", what.c_str(), 100.0 * r.metrics.top1());
}

int TrainingRun::run() {
  setup();
  const int64_t epochs = c_.i64("train.epochs");
  const bool has_val = val_loader_ != nullptr;
  std::string ckpt_metric = c_.str("train.checkpoint_metric");
  std::string stop_metric = c_.str("train.early_stopping.metric");
  // Without validation data, watch the training metric of the same kind.
  auto fallback = [&](std::string m) {
    if (!has_val && m.rfind("val_", 0) == 0) m = "train_" + m.substr(4);
    return m;
  };
  ckpt_metric = fallback(ckpt_metric);
  stop_metric = fallback(stop_metric);
  const std::string ckpt_mode = c_.str("train.checkpoint_mode"), stop_mode = c_.str("train.early_stopping.mode");
  const int64_t patience = c_.i64("train.early_stopping.patience");
  double stop_best = NAN;
  int64_t bad_epochs = 0;

  g_interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);
  int code = 0;
  for (int64_t epoch = start_epoch_; epoch < epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    double lr = opt_->param_groups().back().lr;
    double train_loss, train_acc;
    bool finished = train_epoch(epoch, train_loss, train_acc);
    if (stopped_bad_loss_) {
      code = 1;
      break;
    }
    if (!finished) {
      save("last.ckpt", epoch);
      std::printf("interrupted: saved %s/last.ckpt (resume with --resume; it restarts epoch %lld)\n", dir_.c_str(),
                  static_cast<long long>(epoch + 1));
      code = 130;
      break;
    }
    last_ = {{"train_loss", train_loss}, {"train_accuracy", train_acc}, {"lr", lr}};
    std::string line = "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) + ": train loss " +
                       fmt("%.4f", train_loss) + " acc " + fmt("%.2f%%", train_acc);
    double val_loss = NAN, val_acc = NAN;
    if (has_val) {
      EvalResult r = [&] {
        AutocastGuard autocast(precision_.autocast);  // validation in the training precision
        return evaluate(*ms_.model, *val_loader_, *loss_, data_.num_classes, data_.class_names, "");
      }();
      val_loss = r.loss;
      val_acc = 100.0 * r.metrics.top1();
      last_["val_loss"] = val_loss;
      last_["val_accuracy"] = val_acc;
      line += " | val loss " + fmt("%.4f", val_loss) + " acc " + fmt("%.2f%%", val_acc);
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    line += " | lr " + fmt("%.2e", lr) + " | " + format_duration(seconds);
    if (scaler_->enabled()) {
      line += " | loss scale " + fmt("%g", scaler_->get_scale()) + ", " + std::to_string(scaler_->skipped_steps()) +
              " overflowing steps skipped in this run";
    }
    std::printf("%s\n", line.c_str());

    // Logs.
    std::vector<std::pair<std::string, double>> scalars{{"Loss/train", train_loss}, {"Accuracy/train", train_acc}, {"lr", lr}};
    if (has_val) {
      scalars.push_back({"Loss/val", val_loss});
      scalars.push_back({"Accuracy/val", val_acc});
    }
    for (auto& [tag, v] : scalars) tb_->add_scalar(tag, v, epoch + 1);
    tb_->flush();
    csv_->log(epoch + 1, step_, scalars);
    history_.epoch.push_back(static_cast<double>(epoch + 1));
    history_.train_loss.push_back(train_loss);
    history_.train_acc.push_back(train_acc);
    if (has_val) {
      history_.val_loss.push_back(val_loss);
      history_.val_acc.push_back(val_acc);
    }
    history_.lr.push_back(lr);
    draw_curves(dir_, history_, has_val);

    // Schedule, checkpoints, early stopping.
    if (sched_ && !sched_->per_batch()) {
      if (sched_->name() == "plateau") sched_->step(metric(fallback(c_.str("scheduler.monitor"))));
      else sched_->step();
    }
    double cm = metric(ckpt_metric);
    bool best = std::isnan(best_) || improved(cm, best_, ckpt_mode);
    if (best) best_ = cm;
    save("last.ckpt", epoch + 1);
    if (best) {
      save("best.ckpt", epoch + 1);
      std::printf("  best %s so far (%.4f): saved best.ckpt\n", ckpt_metric.c_str(), cm);
    }
    if (g_interrupted) {  // Ctrl-C came during validation: the epoch is complete and saved
      std::printf("interrupted: saved %s/last.ckpt after epoch %lld (resume with --resume)\n", dir_.c_str(),
                  static_cast<long long>(epoch + 1));
      code = 130;
      break;
    }
    if (patience > 0) {
      double sm = metric(stop_metric);
      if (std::isnan(stop_best) || improved(sm, stop_best, stop_mode)) {
        stop_best = sm;
        bad_epochs = 0;
      } else if (++bad_epochs >= patience) {
        std::printf("early stopping: %s has not improved for %lld epochs\n", stop_metric.c_str(),
                    static_cast<long long>(patience));
        break;
      }
    }
  }
  std::signal(SIGINT, previous);
  if (code == 0) final_report();
  std::printf("run folder: %s\n", dir_.c_str());
  return code;
}

}  // namespace

int run_training(const TrainConfig& config) {
  if (config.str("task") == "simclr") return run_simclr(config);
  EMBER_CHECK(config.str("task") == "classify", "config", "task must be classify or simclr, got '",
              config.str("task"), "'");
  TrainingRun run(config);
  return run.run();
}

}  // namespace ember
