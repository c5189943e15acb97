// The CPU backend: sgemm.cpp's AVX2 kernel for float32 convolution products,
// Eigen for the other matrix products, OpenMP for threads. Each
// method is defined in the file of its op family (elementwise.cpp,
// reduce.cpp, conv2d.cpp, ...); this header only lists them. The contracts
// are those of engine/backend.h.
#pragma once

#include "engine/backend.h"

namespace ember {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  int device_count() const override { return 1; }
  Allocator& allocator(Device) override { return cpu_allocator(); }
  void synchronize(Device) override {}

  // memory.cpp
  void copy(const Tensor& dst, const Tensor& src) override;
  void copy_from_host(const Tensor& dst, const void* src, size_t nbytes) override;
  void copy_to_host(void* dst, const Tensor& src, size_t nbytes) override;
  void fill(const Tensor& dst, Scalar value) override;
  void arange(const Tensor& dst, double start, double step) override;

  // random.cpp
  void random_uniform(const Tensor& dst, double low, double high, uint64_t seed, uint64_t offset) override;
  void random_normal(const Tensor& dst, double mean, double std, uint64_t seed, uint64_t offset) override;
  void random_bernoulli(const Tensor& dst, double p, uint64_t seed, uint64_t offset) override;

  // elementwise.cpp
  void unary(const Tensor& out, const Tensor& in, UnaryOp op, OpParams p) override;
  void binary(const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, OpParams p) override;
  void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) override;

  // reduce.cpp
  void reduce(const Tensor& out, const Tensor& in, ReduceOp op, int64_t outer, int64_t reduce,
              int64_t inner) override;
  void reduce_with_index(const Tensor& values, const Tensor& indices, const Tensor& in, ReduceOp op,
                         int64_t outer, int64_t reduce, int64_t inner) override;

  // matmul.cpp
  void matmul(const Tensor& out, const Tensor& a, const Tensor& b) override;

  // conv2d.cpp (im2col + GEMM) and depthwise_conv2d.cpp
  void conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                      const Conv2dParams& p) override;
  void conv2d_forward_batch_norm(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                                 const Conv2dParams& p, const BatchNormEval& bn, FusedActivation act,
                                 const Tensor& residual) override;
  void conv2d_forward_normalized_input(const Tensor& out, const Tensor& input, const BatchNormEval& input_bn,
                                       FusedActivation input_act, const Tensor& weight, const Conv2dParams& p,
                                       const BatchNormEval& bn, FusedActivation act) override;
  void conv2d_backward_input(const Tensor& grad_input, const Tensor& grad_out, const Tensor& weight,
                             const Conv2dParams& p) override;
  void conv2d_backward_weight(const Tensor& grad_weight, const Tensor& grad_out, const Tensor& input,
                              const Conv2dParams& p) override;
  void conv2d_backward_bias(const Tensor& grad_bias, const Tensor& grad_out) override;

  // batch_norm.cpp
  void batch_norm_forward_train(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                                const Tensor& input, const Tensor& weight, const Tensor& bias,
                                const Tensor& running_mean, const Tensor& running_var, double momentum,
                                double eps, FusedActivation act) override;
  void batch_norm_forward_eval(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, double eps,
                               FusedActivation act) override;
  void batch_norm_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                           const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                           const Tensor& mean, const Tensor& invstd, bool train, FusedActivation act) override;

  // pooling.cpp
  void max_pool2d_forward(const Tensor& out, const Tensor& indices, const Tensor& input,
                          const Pool2dParams& p) override;
  void max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Tensor& indices) override;
  void avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dParams& p) override;
  void avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out, const Pool2dParams& p) override;
  void adaptive_avg_pool2d_forward(const Tensor& out, const Tensor& input) override;
  void adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_out) override;

  // softmax.cpp
  void softmax_forward(const Tensor& out, const Tensor& in, int64_t outer, int64_t dim, int64_t inner,
                       bool log) override;
  void softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out, int64_t outer,
                        int64_t dim, int64_t inner, bool log) override;

  // nll_loss.cpp
  void nll_loss_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& logp, const Tensor& target,
                        const Tensor& weight, int64_t ignore_index) override;
  void nll_loss_backward(const Tensor& grad_logp, const Tensor& grad_loss, const Tensor& target,
                         const Tensor& weight, int64_t ignore_index) override;

  // cross_entropy.cpp
  void cross_entropy_forward(const Tensor& loss, const Tensor& weight_used, const Tensor& lse, const Tensor& logits,
                             const Tensor& target, const Tensor& weight, int64_t ignore_index,
                             double label_smoothing) override;
  void cross_entropy_backward(const Tensor& grad_logits, const Tensor& grad_loss, const Tensor& logits,
                              const Tensor& lse, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                              double label_smoothing) override;

  // optimizer_step.cpp
  void sgd_step(const std::vector<OptimizerParam>& params, const SgdScalars& s) override;
  void adam_step(const std::vector<OptimizerParam>& params, const AdamScalars& s) override;

  // grad_unscale.cpp
  void unscale_grads(const std::vector<Tensor>& grads, const Tensor& found_inf, double inv_scale) override;
};

}  // namespace ember
