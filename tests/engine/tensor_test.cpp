// Tensor basics: dtypes, factories, views and strides, copies, printing.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/support/oracle.h"

namespace ember {
namespace {

using test::expect_error;

TEST(Tensor, FactoriesFillValues) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(ones({4}, DType::Int32).to_vector<int32_t>(), std::vector<int32_t>(4, 1));
  EXPECT_EQ(full({2}, 2.5).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(arange(5).dtype(), DType::Int64);
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(0.0, 1.0, 0.25).to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(arange(1, 10, 3).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(scalar_tensor(3.0).dim(), 0);
  EXPECT_DOUBLE_EQ(scalar_tensor(3.0).item(), 3.0);
}

// Floating scalars as integers truncate and saturate (C++ leaves the plain
// cast of -inf undefined: the ONNX fuzzer found it through MaxPool's -inf
// padding value).
TEST(Scalar, FloatingToIntegerSaturates) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Scalar(-inf).to_int(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Scalar(inf).to<int32_t>(), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(Scalar(std::nan("")).to<int64_t>(), 0);
  EXPECT_EQ(Scalar(1e20).to<int8_t>(), 127);
  EXPECT_EQ(Scalar(-1e20f).to<uint8_t>(), 0);
  EXPECT_EQ(Scalar(-3.7).to<int>(), -3);
  EXPECT_EQ(Scalar(-3.7).to_int(), -3);
  EXPECT_EQ(Scalar(255.9).to<uint8_t>(), 255);
}

// A 0-d tensor has no size(0) (PyTorch raises too); the ONNX fuzzer reached
// it through Squeeze with axes [0] on a scalar.
TEST(Tensor, ZeroDimTensorHasNoSizes) {
  Tensor s = zeros({});
  expect_error([&] { s.size(0); }, {"0-d tensor", "dim 0"});
  expect_error([&] { s.stride(-1); }, {"0-d tensor"});
  EXPECT_EQ(zeros({3}).size(-1), 3);
}

TEST(Tensor, DtypeConversionsRoundTrip) {
  Tensor x = from_vector<float>({-1.5f, 0.0f, 2.25f, 65504.0f}, {4});
  EXPECT_EQ(x.to(DType::Float16).to(DType::Float32).to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(x.to(DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2, 65504}));
  EXPECT_EQ(x.to(DType::Bool).to_vector<bool>(), (std::vector<bool>{true, false, true, true}));
  // bfloat16 keeps 8 bits of mantissa: 1 + 2^-8 rounds to 1 (ties to even), 1 + 3*2^-8 to 1 + 2^-6.
  Tensor b = from_vector<float>({1.0f + 1.0f / 256, 1.0f + 3.0f / 256}, {2}).to(DType::BFloat16);
  EXPECT_EQ(b.to(DType::Float32).to_vector<float>(), (std::vector<float>{1.0f, 1.0f + 1.0f / 64}));
  // half: 1/3 is 0x3555 = 0.333251953125.
  EXPECT_FLOAT_EQ(scalar_tensor(1.0 / 3).to(DType::Float16).item<float>(), 0.333251953125f);
  EXPECT_EQ(from_vector<uint8_t>({250, 7}, {2}).to(DType::Float32).to_vector<float>(), (std::vector<float>{250, 7}));
  // Out of range and NaN saturate rather than being undefined (an ONNX fuzzer finding).
  const float inf = std::numeric_limits<float>::infinity();
  Tensor wild = from_vector<float>({-inf, std::nanf(""), 300.0f, -1e30f, 2.9f}, {5});
  EXPECT_EQ(wild.to(DType::UInt8).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 255, 0, 2}));
  EXPECT_EQ(wild.to(DType::Int32).to_vector<int32_t>(),
            (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 0, 300, std::numeric_limits<int32_t>::min(), 2}));
}

TEST(Tensor, ViewsShareStorage) {
  Tensor x = arange(0.0, 24.0, 1.0).reshape({2, 3, 4});
  Tensor t = x.transpose(0, 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 4, 12}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.contiguous().to_vector<float>()[1], 12.0f);
  Tensor n = x.narrow(2, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(n.to_vector<float>()[0], 1.0f);
  n.fill_(-1);
  EXPECT_EQ(x.to_vector<float>()[1], -1.0f);  // a view writes through
  EXPECT_EQ(x.select(1, 2).shape(), (Shape{2, 4}));
  EXPECT_EQ(x.unsqueeze(1).shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(x.unsqueeze(0).squeeze().shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(x.slice(2, 0, 4, 2).strides(), (Shape{12, 4, 2}));
  EXPECT_EQ(x.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(x.view({-1, 4}).shape(), (Shape{6, 4}));
  Tensor e = from_vector<float>({1, 2, 3}, {3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides(), (Shape{1, 0}));
  EXPECT_EQ(e.contiguous().to_vector<float>(), (std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
}

TEST(Tensor, ViewOfNonContiguousFollowsPyTorchRule) {
  Tensor x = zeros({4, 6}).t();  // [6, 4], strides [1, 6]
  expect_error([&] { x.view({24}); }, {"view", "reshape"});
  EXPECT_EQ(x.view({6, 2, 2}).strides(), (Shape{1, 12, 6}));  // splitting a dim keeps it viewable
  EXPECT_EQ(x.reshape({24}).shape(), (Shape{24}));                  // reshape copies
}

TEST(Tensor, CloneAndCopyAreIndependent) {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor c = x.clone();
  c.fill_(0);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  Tensor y = zeros({2, 2}, DType::Float64);
  y.copy_(x.t());
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, 3, 2, 4}));
  Tensor row = zeros({3, 2});
  row.copy_(from_vector<float>({5, 6}, {2}));  // broadcast copy
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{5, 6, 5, 6, 5, 6}));
}

TEST(Tensor, PrintsLikePyTorch) {
  EXPECT_EQ(from_vector<float>({1.5f, -2.0f, 3.25f, 4.0f}, {2, 2}).str(),
            "tensor([[ 1.5000, -2.0000],\n        [ 3.2500,  4.0000]])");
  EXPECT_EQ(from_vector<float>({1, 2}, {2}).str(), "tensor([1., 2.])");
  EXPECT_EQ(arange(3).str(), "tensor([0, 1, 2])");
  EXPECT_EQ(from_vector<bool>({true, false}, {2}).str(), "tensor([ True, False])");
  EXPECT_EQ(scalar_tensor(0.5, DType::Float64).str(), "tensor(0.5000, dtype=float64)");
  Tensor g = ones({2}).requires_grad_();
  EXPECT_EQ(g.str(), "tensor([1., 1.], requires_grad=True)");
  EXPECT_EQ((g * 2.0).str(), "tensor([2., 2.], grad_fn=<MulBackward>)");
  EXPECT_NE(zeros({2000}).str().find("..."), std::string::npos);
}

TEST(Tensor, BadInputMessagesNameTheOpAndShapes) {
  Tensor x = zeros({2, 3});
  expect_error([&] { x.view({4, 2}); }, {"view", "[4, 2]", "6"});
  expect_error([&] { x.transpose(0, 2); }, {"transpose", "dim 2", "2 dims"});
  expect_error([&] { x.permute({0, 0}); }, {"permute", "twice"});
  expect_error([&] { x.expand({4, 3}); }, {"expand", "[2, 3]", "[4, 3]"});
  expect_error([&] { x.narrow(1, 2, 2); }, {"narrow", "dim 1", "[2, 3]"});
  expect_error([&] { x.item(); }, {"item", "6 elements"});
  expect_error([&] { x.data<int64_t>(); }, {"data", "int64", "float32"});
  expect_error([&] { zeros({2}, DType::Int64).requires_grad_(); }, {"requires_grad_", "int64"});
  expect_error([&] { Device::parse("tpu"); }, {"device", "tpu"});
  expect_error([&] { dtype_from_name("float8"); }, {"dtype", "float8"});
}

TEST(Tensor, CudaDeviceIsRefusedClearlyWithoutAGpu) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present; the refusal only happens without one";
  expect_error([] { zeros({2}, Device(DeviceType::CUDA)); }, {"cuda"});
}

}  // namespace
}  // namespace ember
