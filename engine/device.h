// Where a tensor's memory lives: the host (CPU) or a CUDA device by index.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT: Device(DeviceType::CUDA)
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && (type == DeviceType::CPU || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu", "cuda:0"

  // Parses "cpu", "cuda" or "cuda:N"; throws ember::Error on anything else.
  static Device parse(const std::string& s);
};

inline const Device kCPU{DeviceType::CPU, 0};

// Number of usable CUDA devices: 0 when Ember was built without CUDA, when no
// driver is installed, or when the driver reports no device.
int cuda_device_count();
inline bool cuda_available() { return cuda_device_count() > 0; }

}  // namespace ember
