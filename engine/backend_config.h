// Process-wide switches for the backends, like torch.backends.*:
//   allow_tf32       matrix units may round float32 inputs to TF32 (CUDA matmul
//                    and convolution); off by default so results match float32
//   cudnn_benchmark  time every cuDNN convolution algorithm on a new shape and
//                    keep the fastest (otherwise cuDNN's heuristics choose)
//   deterministic    prefer deterministic algorithms over faster ones
#pragma once

namespace ember {

struct BackendConfig {
  bool allow_tf32 = false;
  bool cudnn_benchmark = false;
  bool deterministic = false;
};

BackendConfig& backend_config();

}  // namespace ember
