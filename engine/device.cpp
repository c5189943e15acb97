#include "engine/device.h"

#include "engine/backend.h"
#include "engine/error.h"

namespace ember {

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& s) {
  if (s == "cpu") return Device(DeviceType::CPU);
  if (s == "cuda" || s == "gpu") return Device(DeviceType::CUDA, 0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    size_t used = 0;
    int index = -1;
    try {
      index = std::stoi(s.substr(5), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == s.size() - 5 && index >= 0) return Device(DeviceType::CUDA, index);
  }
  fail("device", "cannot parse device '", s, "' (expected cpu, cuda or cuda:N)");
}

int cuda_device_count() {
  Backend* cuda = cuda_backend_or_null();
  return cuda ? cuda->device_count() : 0;
}

}  // namespace ember
