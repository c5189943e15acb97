#include "engine/storage.h"

#include <atomic>

#include "engine/backend.h"

namespace ember {
namespace {
uint64_t next_storage_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device), id_(next_storage_id()) {
  allocator_ = &backend(device).allocator(device);
  data_ = allocator_->allocate(nbytes);
}

Storage::Storage(size_t nbytes, Device device, Allocator& allocator)
    : nbytes_(nbytes), device_(device), allocator_(&allocator), id_(next_storage_id()) {
  data_ = allocator_->allocate(nbytes);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> release)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)), id_(next_storage_id()) {}

Storage::~Storage() {
  if (release_) {
    release_(data_);
  } else if (data_ && allocator_) {
    allocator_->deallocate(data_, nbytes_);
  }
}

}  // namespace ember
