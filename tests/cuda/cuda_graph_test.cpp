// CUDA graphs (engine/cuda/cuda_graph.h) and CapturedStep
// (engine/captured_step.h): a replay recomputes from new static inputs, the
// graph's private memory is not handed to eager tensors while it lives and
// returns when it dies, random ops draw exactly the numbers an eager run
// draws, a capture that synchronises fails with a clear error, and whole
// training and inference steps of real models replayed as graphs match the
// same steps run eagerly. On the CPU, CapturedStep runs every call eagerly.
#include <cmath>

#include "engine/backend.h"
#include "engine/backend_config.h"
#include "engine/captured_step.h"
#include "models/registry.h"
#include "tests/cuda/cuda_test_util.h"

#ifdef EMBER_WITH_CUDA
#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda_graph.h"
#endif

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

TEST(CapturedStep, CpuRunsEveryCallEagerly) {
  Tensor x = from_vector(std::vector<float>{1, -2, 3}, {3});
  Tensor total = zeros({3});
  int runs = 0;
  CapturedStep step(kCPU, [&] {
    ++runs;
    total.add_(relu(x));
  }, /*warmup=*/2);
  for (int i = 0; i < 5; ++i) step();
  EXPECT_EQ(runs, 5);
  EXPECT_EQ(step.calls(), 5);
  EXPECT_FALSE(step.is_graph());
  EXPECT_EQ(relative_error(total, from_vector(std::vector<float>{5, 0, 15}, {3})), 0.0);
  expect_error([] { CapturedStep bad(kCPU, [] {}, -1); }, {"CapturedStep", "warm-up"});
  expect_error([] { CapturedStep bad(kCPU, [] {}, 0); }, {"CapturedStep", "at least 1 warm-up"});
  expect_error([] { CapturedStep bad(kCPU, nullptr); }, {"CapturedStep", "function"});
}

#ifdef EMBER_WITH_CUDA

TEST(CudaGraph, ReplayRecomputesFromTheStaticInput) {
  EMBER_REQUIRE_CUDA();
  Tensor x = zeros({10'000}, TensorOptions(kCuda)), y;
  auto fn = [&] { y = sigmoid(add(mul(x, 2.0), 1.0)); };
  fn();  // eagerly first, as CapturedStep does: kernels load before the capture
  CudaGraph graph(0, fn);
  EXPECT_GE(graph.num_nodes(), 1u);
  for (int round = 0; round < 3; ++round) {
    Tensor host = randn({10'000});
    x.copy_(host.to(kCuda));
    graph.replay();
    EXPECT_LE(cuda_error(y, sigmoid(add(mul(host, 2.0), 1.0))), 1e-6) << "replay " << round;
  }
}

TEST(CudaGraph, PrivateMemoryIsKeptWhileTheGraphLivesAndReturnedAfter) {
  EMBER_REQUIRE_CUDA();
  CudaCachingAllocator& allocator = cuda_caching_allocator(0);
  Tensor x = full({1 << 20}, 3.0, TensorOptions(kCuda));
  auto work = [&] { return add(exp(mul(x, 2.0)), x); };
  (void)work();
  backend(kCuda).synchronize(kCuda);
  allocator.empty_cache();
  const AllocatorStats before = allocator.stats();
  Tensor out;
  {
    // The temporaries (x * 2, its exp) are freed inside the capture. Their
    // segments are then wholly free, yet empty_cache() must not return them
    // to the driver, nor may eager tensors get them, while replays use them.
    CudaGraph graph(0, [&] { out = work(); });
    allocator.empty_cache();
    std::vector<Tensor> eager;
    for (int i = 0; i < 8; ++i) eager.push_back(full({1 << 20}, static_cast<double>(i), TensorOptions(kCuda)));
    graph.replay();
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(cuda_error(eager[i], full({1 << 20}, static_cast<double>(i))), 0.0) << "eager tensor " << i;
    }
    EXPECT_LE(cuda_error(out, full({1 << 20}, std::exp(6.0) + 3.0)), 1e-6);
  }
  // Gone with the graph: its memory is ordinary cache again, which
  // empty_cache() can return to the driver.
  out = Tensor();
  EXPECT_EQ(allocator.stats().allocated_bytes, before.allocated_bytes);
  allocator.empty_cache();
  EXPECT_EQ(allocator.stats().reserved_bytes, before.reserved_bytes);
}

TEST(CudaGraph, RandomReplaysDrawWhatAnEagerRunDraws) {
  EMBER_REQUIRE_CUDA();
  const TensorOptions on_gpu(kCuda);
  manual_seed(5);
  std::vector<Tensor> eager;
  for (int i = 0; i < 3; ++i) eager.push_back(add(rand({4096}, on_gpu), bernoulli({4096}, 0.3, on_gpu)).cpu());
  const GeneratorState eager_end = default_generator().state();

  manual_seed(5);
  Tensor r;
  CudaGraph graph(0, [&] { r = add(rand({4096}, on_gpu), bernoulli({4096}, 0.3, on_gpu)); });
  EXPECT_EQ(default_generator().state().offset, 0u) << "the capture itself draws nothing";
  for (int i = 0; i < 3; ++i) {
    graph.replay();
    EXPECT_EQ(cuda_error(r, eager[i]), 0.0) << "replay " << i;
  }
  EXPECT_EQ(default_generator().state().offset, eager_end.offset);
}

TEST(CudaGraph, SynchronisingInsideTheCaptureIsAClearError) {
  EMBER_REQUIRE_CUDA();
  Tensor x = ones({16}, TensorOptions(kCuda));
  expect_error([&] { CudaGraph graph(0, [&] { (void)sum(x).item(); }); }, {"cuda graph"});
  // The failed capture leaves the device usable.
  EXPECT_EQ(sum(x).item(), 16.0);
  Tensor y;
  CudaGraph outer(0, [&] {
    y = add(x, 1.0);
    expect_error([&] { CudaGraph inner(0, [] {}); }, {"cuda graph", "do not nest"});
  });
  outer.replay();
  EXPECT_EQ(sum(y).item(), 32.0);
}

// N training steps (SGD with momentum) of `name` from the same start, run
// eagerly and through CapturedStep; returns the largest parameter difference.
double graphed_training_difference(const std::string& name, int steps) {
  auto train = [&](bool graphs) {
    manual_seed(3);
    ModulePtr model = create_model(name, 10);
    model->to(kCuda);
    model->train();
    SGD opt(single_group(model->parameters(), 0.05), SgdOptions{0.9});
    Tensor x = empty({4, 3, 64, 64}, TensorOptions(kCuda));
    Tensor y = empty({4}, TensorOptions(DType::Int64, kCuda));
    manual_seed(4);  // every run sees the same batches and the same dropout draws
    std::vector<Tensor> xs, ys;
    for (int i = 0; i < steps; ++i) {
      xs.push_back(randn({4, 3, 64, 64}));
      ys.push_back(from_vector(std::vector<int64_t>{i % 10, (i + 3) % 10, 7, 1}, {4}));
    }
    auto step_fn = [&] {
      opt.zero_grad();
      cross_entropy((*model)(x), y).backward();
      opt.step();
    };
    CapturedStep step(kCuda, step_fn, /*warmup=*/1);
    for (int i = 0; i < steps; ++i) {
      x.copy_(xs[i].to(kCuda));
      y.copy_(ys[i].to(kCuda));
      if (graphs) step(); else step_fn();
    }
    EXPECT_EQ(step.is_graph(), graphs && steps > 1);
    std::vector<Tensor> params;
    for (const Tensor& p : model->parameters()) params.push_back(p.detach().cpu());
    return params;
  };
  const std::vector<Tensor> eager = train(false), graphed = train(true);
  double worst = 0;
  for (size_t i = 0; i < eager.size(); ++i) worst = std::max(worst, relative_error(graphed[i], eager[i]));
  return worst;
}

TEST(CapturedStep, TrainingStepsMatchEagerSteps) {
  EMBER_REQUIRE_CUDA();
  BackendConfig saved = backend_config();
  backend_config().deterministic = true;  // the same cuDNN algorithms in both runs, run to run the same sums
  // ResNet-18: convolutions, batch norm, residual add + ReLU, pooling, linear.
  EXPECT_LE(graphed_training_difference("resnet18", 4), 1e-5);
  // MobileNetV2: depthwise convolutions, ReLU6, and dropout drawing random numbers each replay.
  EXPECT_LE(graphed_training_difference("mobilenet_v2", 4), 1e-5);
  backend_config() = saved;
}

// Adam's bias corrections change every step and are kernel arguments: a
// captured Adam step would replay the first ones, so it refuses.
TEST(CapturedStep, AdamRefusesToBeCaptured) {
  EMBER_REQUIRE_CUDA();
  Tensor w = randn({8}, TensorOptions(kCuda)).requires_grad_();
  Adam opt(single_group({w}, 1e-3));
  CapturedStep step(kCuda, [&] {
    opt.zero_grad();
    sum(mul(w, w)).backward();
    opt.step();
  }, /*warmup=*/1);
  step();  // eager
  expect_error([&] { step(); }, {"capture failed", "adam", "outside the captured function"});
}

TEST(CapturedStep, InferenceMatchesEager) {
  EMBER_REQUIRE_CUDA();
  manual_seed(8);
  ModulePtr model = create_model("efficientnet_b0", 10);
  model->to(kCuda);
  model->eval();
  Tensor x = empty({2, 3, 96, 96}, TensorOptions(kCuda)), logits;
  // One eager call first: it creates the cuBLAS and cuDNN handles, which
  // allocate and so cannot be made inside a capture.
  CapturedStep step(kCuda, [&] {
    NoGradGuard no_grad;
    logits = (*model)(x);
  }, /*warmup=*/1);
  for (int i = 0; i < 4; ++i) {
    Tensor batch = randn({2, 3, 96, 96}, TensorOptions(kCuda));
    x.copy_(batch);
    step();
    EXPECT_EQ(step.is_graph(), i >= 1);
    NoGradGuard no_grad;
    EXPECT_LE(relative_error(logits.cpu(), (*model)(batch).cpu()), 1e-6) << "call " << i;
  }
}

#endif  // EMBER_WITH_CUDA

}  // namespace
}  // namespace ember
