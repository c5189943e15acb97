// CUDA reductions against the CPU backend: sum, mean, amax, amin, var over
// every layout the kernels distinguish (last dim short and long, inner dims
// narrow and wide, few outputs with a long reduced dim, which splits over
// blocks and takes a second pass), all dims, integer dtypes; max/min with
// indices including ties and NaN; float16/bfloat16 against float32.
#include <limits>

#include "tests/cuda/cuda_test_util.h"

namespace ember {
namespace {

using namespace ember::test;  // NOLINT

struct ReduceCase {
  Shape shape;
  Dims dims;
};

std::vector<ReduceCase> reduce_cases() {
  return {
      {{1}, {0}},                 // one element
      {{7, 13}, {1}},             // short rows: a warp per row
      {{5, 3000}, {1}},           // long rows: a block per row, split over blocks
      {{2, 200003}, {1}},         // very long rows, odd length
      {{64, 4096}, {1}},          // many long rows
      {{300, 7}, {0}},            // narrow columns
      {{4097, 3}, {0}},           // few narrow columns: split over blocks
      {{100000, 64}, {0}},        // wide columns, long reduced dim
      {{3, 50, 129}, {1}},        // [outer, R, inner]
      {{2, 3, 4, 5}, {1, 2}},     // adjacent dims
      {{2, 3, 4, 5}, {0, 2}},     // non-adjacent dims: two passes
      {{6, 5, 4}, {}},            // everything
      {{1000, 1000}, {}},         // everything, large
  };
}

TEST(CudaReduce, SumMeanMaxMinVarMatchCpu) {
  EMBER_REQUIRE_CUDA();
  manual_seed(1);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const ReduceCase& c : reduce_cases()) {
      const std::string what = cat_str(c.shape, " over ", c.dims, " ", dtype_name(dtype));
      compare_with_cpu({rnd(c.shape, true, dtype)}, [&](const std::vector<Tensor>& v) { return sum(v[0], c.dims); },
                       kAccumulateTol, "sum " + what);
      compare_with_cpu({rnd(c.shape, true, dtype)},
                       [&](const std::vector<Tensor>& v) { return mean(v[0], c.dims, true); }, kAccumulateTol,
                       "mean " + what);
      compare_with_cpu({rnd(c.shape, true, dtype)}, [&](const std::vector<Tensor>& v) { return amax(v[0], c.dims); },
                       kAccumulateTol, "amax " + what);
      compare_with_cpu({rnd(c.shape, true, dtype)}, [&](const std::vector<Tensor>& v) { return amin(v[0], c.dims); },
                       kAccumulateTol, "amin " + what);
    }
    compare_with_cpu({rnd({17, 33}, true, dtype)}, [](const std::vector<Tensor>& v) { return var(v[0], {0}); },
                     kAccumulateTol, "var");
    compare_with_cpu({rnd({17, 33}, true, dtype)}, [](const std::vector<Tensor>& v) { return norm(v[0], {1}); },
                     kAccumulateTol, "norm");
  }
  // A reduction of a non-contiguous view.
  compare_with_cpu({rnd({40, 30})}, [](const std::vector<Tensor>& v) { return sum(v[0].t(), {1}); }, kAccumulateTol,
                   "sum of a transpose");
}

TEST(CudaReduce, IntegerDtypes) {
  EMBER_REQUIRE_CUDA();
  manual_seed(2);
  for (DType dtype : {DType::Int32, DType::Int64, DType::UInt8, DType::Bool}) {
    Tensor x = floor(uniform({37, 1025}, 0, dtype == DType::Bool ? 2 : 100)).to(dtype);
    compare_with_cpu({x}, [](const std::vector<Tensor>& v) { return sum(v[0], {1}); }, kAccumulateTol, "int sum rows");
    compare_with_cpu({x}, [](const std::vector<Tensor>& v) { return sum(v[0], {0}); }, kAccumulateTol, "int sum cols");
    compare_with_cpu({x}, [](const std::vector<Tensor>& v) { return sum(v[0]); }, kAccumulateTol, "int sum all");
    if (dtype != DType::Bool) {
      compare_with_cpu({x}, [](const std::vector<Tensor>& v) { return amax(v[0], {1}); }, kAccumulateTol, "int amax");
      compare_with_cpu({x}, [](const std::vector<Tensor>& v) { return amin(v[0], {0}); }, kAccumulateTol, "int amin");
    }
  }
}

TEST(CudaReduce, MaxMinWithIndices) {
  EMBER_REQUIRE_CUDA();
  manual_seed(3);
  auto values_and_indices = [](int64_t dim, bool is_max) {
    return [dim, is_max](const std::vector<Tensor>& v) {
      auto [values, indices] = is_max ? max(v[0], dim) : min(v[0], dim);
      return std::vector<Tensor>{values, indices};
    };
  };
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::UInt8, DType::Float16}) {
    // Few distinct values, so ties are common: the first index must win.
    for (const Shape& shape : std::vector<Shape>{{9, 11}, {3, 2000}, {2, 40, 7}, {1500, 3}}) {
      Tensor x = floor(uniform(shape, 0, 4)).to(dtype);
      for (int64_t dim = 0; dim < static_cast<int64_t>(shape.size()); ++dim) {
        compare_with_cpu({x}, values_and_indices(dim, true), kElementwiseTol, cat_str("max ", shape, " dim ", dim));
        compare_with_cpu({x}, values_and_indices(dim, false), kElementwiseTol, cat_str("min ", shape, " dim ", dim));
      }
    }
  }
  // Gradients flow to the chosen element.
  compare_with_cpu({rnd({6, 9})}, MultiFn([](const std::vector<Tensor>& v) { return std::vector<Tensor>{max(v[0], 1).first}; }),
                   kElementwiseTol, "max backward");
  // NaN wins, the first NaN of the row.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = from_vector<float>({1, nan, 3, nan, 2, 5, 5, 0, -1, 7, nan, 7}, {3, 4});
  compare_with_cpu({x}, values_and_indices(1, true), kElementwiseTol, "max with NaN");
  compare_with_cpu({x}, values_and_indices(0, false), kElementwiseTol, "min with NaN");
  compare_with_cpu({x}, [](const std::vector<Tensor>& v) { return amax(v[0], {1}); }, kElementwiseTol, "amax NaN");
  // argmax over a large flattened tensor (a block per row).
  Tensor big = randn({300, 700});
  compare_with_cpu({big}, [](const std::vector<Tensor>& v) { return argmax(v[0]); }, kElementwiseTol, "argmax all");
  compare_with_cpu({big}, [](const std::vector<Tensor>& v) { return argmin(v[0], 0); }, kElementwiseTol, "argmin dim 0");
}

TEST(CudaReduce, HalfAndBFloat16AgainstFloat32) {
  EMBER_REQUIRE_CUDA();
  manual_seed(4);
  for (DType dtype : {DType::Float16, DType::BFloat16}) {
    const double tol = dtype == DType::Float16 ? 2e-3 : 1.6e-2;
    for (const ReduceCase& c : reduce_cases()) {
      Tensor x16 = randn(c.shape, TensorOptions(dtype, kCuda));
      Tensor x32 = x16.to(DType::Float32);
      // 16-bit sums accumulate in float, so they equal float32 sums rounded once.
      EXPECT_LE(relative_error(sum(x16, c.dims).to(DType::Float32).cpu(), sum(x32, c.dims).to(dtype).to(DType::Float32).cpu()),
                tol)
          << cat_str("sum ", c.shape, " ", dtype_name(dtype));
      EXPECT_EQ(relative_error(amax(x16, c.dims).to(DType::Float32).cpu(), amax(x32, c.dims).cpu()), 0)
          << cat_str("amax ", c.shape, " ", dtype_name(dtype));
    }
  }
}

}  // namespace
}  // namespace ember
