// `ember demo`: trains a small CNN on Fashion-MNIST from Debian's
// dataset-fashion-mnist package and reports test accuracy. A real end-to-end
// run of the engine (IDX decoding, conv/batch-norm/pool/linear forward and
// backward, Adam) until `ember train` covers every workflow.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "data/idx_file.h"
#include "engine/ember.h"
#include "tools/ember/commands.h"
#include "tools/lib/progress_bar.h"

namespace ember::cli {
namespace {

struct DemoOptions {
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  int epochs = 1;
  int batch_size = 64;
  double lr = 1e-3;
  int64_t limit = 0;
  uint64_t seed = 0;
  std::string device = "cpu";
};

// conv(1->8) BN ReLU pool, conv(8->16) BN ReLU pool, linear(784->10): 9,258 parameters.
class SmallCnn {
 public:
  SmallCnn(Device device, Generator& gen) {
    conv1_ = init({8, 1, 3, 3}, 9, device, gen);
    conv2_ = init({16, 8, 3, 3}, 72, device, gen);
    fc_w_ = init({10, 784}, 784, device, gen);
    fc_b_ = init({10}, 784, device, gen);
    bn_w_ = {ones({8}, device).requires_grad_(), ones({16}, device).requires_grad_()};
    bn_b_ = {zeros({8}, device).requires_grad_(), zeros({16}, device).requires_grad_()};
    rm_ = {zeros({8}, device), zeros({16}, device)};
    rv_ = {ones({8}, device), ones({16}, device)};
  }
  Tensor forward(const Tensor& x, bool training) {
    Tensor h = conv2d(x, conv1_, Tensor(), {1, 1}, {1, 1});
    h = max_pool2d(relu(batch_norm(h, rm_[0], rv_[0], bn_w_[0], bn_b_[0], training)), {2, 2});
    h = conv2d(h, conv2_, Tensor(), {1, 1}, {1, 1});
    h = max_pool2d(relu(batch_norm(h, rm_[1], rv_[1], bn_w_[1], bn_b_[1], training)), {2, 2});
    return linear(h.flatten(1), fc_w_, fc_b_);
  }
  std::vector<Tensor> parameters() const { return {conv1_, bn_w_[0], bn_b_[0], conv2_, bn_w_[1], bn_b_[1], fc_w_, fc_b_}; }

 private:
  // PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  static Tensor init(const Shape& shape, int64_t fan_in, Device device, Generator& gen) {
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return uniform(shape, -bound, bound, TensorOptions(DType::Float32, device), &gen).requires_grad_();
  }
  Tensor conv1_, conv2_, fc_w_, fc_b_;
  std::vector<Tensor> bn_w_, bn_b_, rm_, rv_;
};

struct Split {
  Tensor images;  // uint8 [N, 28, 28]
  Tensor labels;  // uint8 [N]
};

Split load_split(const std::string& dir, const std::string& prefix) {
  Split s{read_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz"), read_idx(dir + "/" + prefix + "-labels-idx1-ubyte.gz")};
  EMBER_CHECK(s.images.dim() == 3 && s.labels.dim() == 1 && s.images.size(0) == s.labels.size(0), "demo", dir, "/",
              prefix, ": images ", s.images.shape(), " and labels ", s.labels.shape(), " do not match");
  return s;
}

// Gathers samples order[begin, end) as a normalised float batch on `device`.
std::pair<Tensor, Tensor> make_batch(const Split& s, const std::vector<int64_t>& order, size_t begin, size_t end,
                                     Device device) {
  const int64_t n = static_cast<int64_t>(end - begin), hw = s.images.size(1) * s.images.size(2);
  Tensor x = empty({n, 1, s.images.size(1), s.images.size(2)});
  Tensor y = empty({n}, DType::Int64);
  const uint8_t* img = s.images.data<uint8_t>();
  const uint8_t* lab = s.labels.data<uint8_t>();
  float* px = x.data<float>();
  int64_t* py = y.data<int64_t>();
  constexpr float kMean = 0.2860f, kStd = 0.3530f;  // Fashion-MNIST training-set statistics
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = order[begin + static_cast<size_t>(i)];
    for (int64_t j = 0; j < hw; ++j) px[i * hw + j] = (img[k * hw + j] / 255.0f - kMean) / kStd;
    py[i] = lab[k];
  }
  return {x.to(device), y.to(device)};
}

int run_demo(const DemoOptions& o) {
  Device device = Device::parse(o.device);
  std::printf("ember demo: Fashion-MNIST from %s on %s, %d thread(s)\n", o.data_dir.c_str(), device.str().c_str(),
              num_threads());
  Split train, test;
  try {
    train = load_split(o.data_dir, "train");
    test = load_split(o.data_dir, "t10k");
  } catch (const Error& e) {
    fail("demo", e.what(), " (install Debian's dataset-fashion-mnist package or pass --data DIR)");
  }
  const int64_t n_train = o.limit > 0 ? std::min<int64_t>(o.limit, train.images.size(0)) : train.images.size(0);
  Generator gen(o.seed);
  manual_seed(o.seed);
  SmallCnn model(device, gen);
  int64_t n_params = 0;
  for (const Tensor& p : model.parameters()) n_params += p.numel();
  std::printf("model: conv-bn-relu-pool x2 + linear, %lld parameters; Adam lr %g, batch %d\n",
              static_cast<long long>(n_params), o.lr, o.batch_size);
  Adam opt(single_group(model.parameters(), o.lr));
  std::mt19937_64 shuffle_rng(o.seed);
  std::vector<int64_t> order(static_cast<size_t>(n_train));
  double test_acc = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    const int64_t steps = (n_train + o.batch_size - 1) / o.batch_size;
    ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), steps);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      size_t begin = static_cast<size_t>(step * o.batch_size);
      size_t end = std::min(order.size(), begin + static_cast<size_t>(o.batch_size));
      auto [x, y] = make_batch(train, order, begin, end, device);
      Tensor logits = model.forward(x, true);
      Tensor loss = cross_entropy(logits, y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      double l = loss.item();
      EMBER_CHECK(std::isfinite(l), "demo", "the loss became ", l, " at step ", step + 1, " of epoch ", epoch);
      loss_sum += l * static_cast<double>(end - begin);
      correct += sum(eq(argmax(logits.detach(), 1), y)).item<int64_t>();
      seen += static_cast<int64_t>(end - begin);
      char lbuf[32], abuf[32];
      std::snprintf(lbuf, sizeof lbuf, "%.4f", loss_sum / static_cast<double>(seen));
      std::snprintf(abuf, sizeof abuf, "%.1f%%", 100.0 * static_cast<double>(correct) / static_cast<double>(seen));
      bar.update(step + 1, static_cast<int64_t>(end - begin), {{"loss", lbuf}, {"acc", abuf}});
    }
    bar.finish();
    const double train_rate = bar.rate();
    // Evaluation on the 10,000 test images.
    NoGradGuard no_grad;
    std::vector<int64_t> test_order(static_cast<size_t>(test.images.size(0)));
    std::iota(test_order.begin(), test_order.end(), 0);
    int64_t test_correct = 0;
    double test_loss = 0;
    for (size_t b = 0; b < test_order.size(); b += 500) {
      size_t e = std::min(test_order.size(), b + 500);
      auto [x, y] = make_batch(test, test_order, b, e, device);
      Tensor logits = model.forward(x, false);
      test_loss += cross_entropy(logits, y, Tensor(), -100, Reduction::Sum).item();
      test_correct += sum(eq(argmax(logits, 1), y)).item<int64_t>();
    }
    double n_test = static_cast<double>(test_order.size());
    test_acc = 100.0 * static_cast<double>(test_correct) / n_test;
    std::printf("epoch %d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.0f img/s\n", epoch,
                loss_sum / static_cast<double>(seen), 100.0 * static_cast<double>(correct) / static_cast<double>(seen),
                test_loss / n_test, test_acc, train_rate);
  }
  std::printf("test accuracy: %.2f%%\n", test_acc);
  return 0;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand("demo", "Train a small CNN on Fashion-MNIST and report test accuracy");
  cmd->add_option("--data", options->data_dir, "Folder with the Fashion-MNIST .gz IDX files")->capture_default_str();
  cmd->add_option("--epochs", options->epochs, "Training epochs")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", options->batch_size, "Batch size")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--lr", options->lr, "Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--limit", options->limit, "Use only the first N training images (0: all)")->capture_default_str();
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  cmd->add_option("--device", options->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->callback([options] { run_demo(*options); });
}

}  // namespace ember::cli
