#include "engine/backend.h"

#include "engine/error.h"

namespace ember {

Backend& backend(Device device) {
  if (device.is_cpu()) return cpu_backend();
  Backend* cuda = cuda_backend_or_null();
  if (!cuda) {
    fail("cuda", "this Ember was built without CUDA (configure with the CUDA toolkit, cuDNN and cuBLAS present, "
                 "and without -DEMBER_CUDA=OFF)");
  }
  int count = cuda->device_count();
  if (device.index < 0 || device.index >= count) {
    if (count == 0) fail("cuda", "no CUDA device is present (no GPU, or no driver); use the cpu device");
    fail("cuda", "device ", device.str(), " does not exist (", count, " CUDA devices present)");
  }
  return *cuda;
}

#ifndef EMBER_WITH_CUDA
Backend* cuda_backend_or_null() { return nullptr; }
#endif

}  // namespace ember
