#include "kernels/cpu/cpu_backend.h"

namespace ember {

Backend& cpu_backend() {
  static CpuBackend* instance = new CpuBackend();  // never destroyed: storages may outlive statics
  return *instance;
}

}  // namespace ember
