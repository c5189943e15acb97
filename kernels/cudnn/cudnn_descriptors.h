// Owning wrappers of the cuDNN descriptors Ember uses (tensor, filter,
// convolution) and the mapping from Ember dtypes to cuDNN's. Every call is
// checked; a failure names the op.
#pragma once

#include <cudnn.h>

#include <climits>
#include <cstdint>

#include "engine/cuda/cudnn_handle.h"
#include "engine/tensor.h"

namespace ember {

inline cudnnDataType_t cudnn_dtype(DType t, const char* op) {
  switch (t) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::Float16: return CUDNN_DATA_HALF;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: fail(op, "cuDNN does not support ", dtype_name(t));
  }
}

inline int cudnn_int(int64_t v, const char* op) {
  EMBER_CHECK(v >= 0 && v <= INT_MAX, op, "size ", v, " does not fit cuDNN's 32-bit dimensions");
  return static_cast<int>(v);
}

class TensorDescriptor {
 public:
  TensorDescriptor() { EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d_), "cudnn"); }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(d_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  // A dense NCHW tensor, or NHWC in memory with `format` CUDNN_TENSOR_NHWC (dims still n, c, h, w).
  void set(DType dtype, int64_t n, int64_t c, int64_t h, int64_t w, const char* op,
           cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW) {
    EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d_, format, cudnn_dtype(dtype, op), cudnn_int(n, op),
                                                 cudnn_int(c, op), cudnn_int(h, op), cudnn_int(w, op)),
                      op);
  }
  cudnnTensorDescriptor_t get() const { return d_; }

 private:
  cudnnTensorDescriptor_t d_ = nullptr;
};

class FilterDescriptor {
 public:
  FilterDescriptor() { EMBER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d_), "cudnn"); }
  ~FilterDescriptor() { cudnnDestroyFilterDescriptor(d_); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  // An OIHW weight (I = input channels per group); OHWI in memory with CUDNN_TENSOR_NHWC.
  void set(DType dtype, int64_t o, int64_t i, int64_t h, int64_t w, const char* op,
           cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW) {
    EMBER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d_, cudnn_dtype(dtype, op), format, cudnn_int(o, op),
                                                 cudnn_int(i, op), cudnn_int(h, op), cudnn_int(w, op)),
                      op);
  }
  cudnnFilterDescriptor_t get() const { return d_; }

 private:
  cudnnFilterDescriptor_t d_ = nullptr;
};

class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor() { EMBER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d_), "cudnn"); }
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(d_); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return d_; }

 private:
  cudnnConvolutionDescriptor_t d_ = nullptr;
};

}  // namespace ember
