// A bounded cache of packed weights: see packed_weight_cache.h.
#include "kernels/cpu/packed_weight_cache.h"

#include <cstdlib>
#include <string>

#include "engine/error.h"

namespace ember {

PackedWeightCache::PackedWeightCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

void PackedWeightCache::drop(std::map<Key, Entry>::iterator it) {
  bytes_ -= static_cast<size_t>(it->second.packed.numel()) * sizeof(float);
  recent_.erase(it->second.recent);
  entries_.erase(it);
}

Tensor PackedWeightCache::get(const Tensor& weight, const Layout& layout, int64_t floats,
                              const std::function<void(float*)>& pack) {
  const TensorOptions f32(DType::Float32, Device(DeviceType::CPU));
  const size_t nbytes = static_cast<size_t>(floats) * sizeof(float);
  const std::shared_ptr<Storage>& storage = weight.storage();
  const Key key{storage->id(),
                static_cast<size_t>(static_cast<const char*>(weight.data_ptr()) -
                                    static_cast<const char*>(storage->data())),
                layout};
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (it->second.version == storage->version()) {
      recent_.splice(recent_.begin(), recent_, it->second.recent);
      return it->second.packed;
    }
    drop(it);  // written since it was packed
  }
  Tensor packed = empty({floats}, f32);
  pack(static_cast<float*>(packed.data_ptr()));
  ++packs_;
  if (nbytes > capacity_) return packed;
  // Storages that died take their entries with them; then the least
  // recently used go until the new one fits.
  for (auto e = entries_.begin(); e != entries_.end();) {
    auto next = std::next(e);
    if (e->second.storage.expired()) drop(e);
    e = next;
  }
  while (bytes_ + nbytes > capacity_ && !recent_.empty()) drop(entries_.find(recent_.back()));
  recent_.push_front(key);
  entries_.emplace(key, Entry{storage, storage->version(), packed, recent_.begin()});
  bytes_ += nbytes;
  return packed;
}

size_t PackedWeightCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

size_t PackedWeightCache::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

uint64_t PackedWeightCache::packs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return packs_;
}

namespace {
size_t capacity_from_environment() {
  const char* mb = std::getenv("EMBER_PACKED_WEIGHTS_MB");
  if (mb == nullptr || *mb == '\0') return size_t{256} << 20;
  char* end = nullptr;
  const long long value = std::strtoll(mb, &end, 10);
  EMBER_CHECK(end != mb && *end == '\0' && value >= 0, "EMBER_PACKED_WEIGHTS_MB",
              "must be a whole number of MiB (0 turns the cache off), got '", std::string(mb), "'");
  return static_cast<size_t>(value) << 20;
}
}  // namespace

PackedWeightCache& packed_weight_cache() {
  static PackedWeightCache cache(capacity_from_environment());
  return cache;
}

}  // namespace ember
