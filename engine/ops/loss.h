// Loss functions (torch.nn.functional): negative log-likelihood, cross
// entropy with class weights, ignore_index and label smoothing (class-index
// or probability targets), binary cross entropy with logits, MSE and L1;
// and cosine similarity, which NT-Xent builds on.
#pragma once

#include <string>

#include "engine/tensor.h"

namespace ember {

enum class Reduction { None, Mean, Sum };
Reduction parse_reduction(const std::string& name);  // "none", "mean", "sum"

// logp: [N, C] or [N, C, d1, ...] log-probabilities; target: int64 [N] or [N, d1, ...].
Tensor nll_loss(const Tensor& logp, const Tensor& target, const Tensor& weight = Tensor(),
                int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);
// logits [N, C, ...]; target: class indices (int64) or probabilities (same shape as logits).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::Mean,
                     double label_smoothing = 0.0);
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// x1 . x2 / max(|x1| |x2|, eps) along dim, after broadcasting.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, int64_t dim = 1, double eps = 1e-8);

}  // namespace ember
