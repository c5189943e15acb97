// A reference-counted block of device or host memory that tensors view.
// Views of one tensor share one Storage, and with it one version counter: every
// in-place write bumps it, so autograd can tell that a value saved for the
// backward pass was overwritten afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/device.h"

namespace ember {
class Allocator;
}

namespace ember {

class Storage {
 public:
  // Allocates nbytes on `device` with that device's allocator.
  Storage(size_t nbytes, Device device);
  // Allocates nbytes with `allocator`, which serves memory of `device`
  // (page-locked host memory is CPU memory from the CUDA backend's allocator).
  Storage(size_t nbytes, Device device, Allocator& allocator);
  // Wraps memory someone else owns; `release` is called when the storage dies.
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  Allocator* allocator() const { return allocator_; }  // null for wrapped memory
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }
  // Unique to this storage among all made in the process (an address may be
  // reused after a storage dies; an id is not): caches of what was computed
  // from a storage's values key on it.
  uint64_t id() const { return id_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::function<void(void*)> release_;  // empty: memory came from the device allocator
  Allocator* allocator_ = nullptr;       // the allocator that made data_ (when release_ is empty)
  uint64_t version_ = 0;
  uint64_t id_;
};

}  // namespace ember
