// Weights packed for a CPU kernel, kept between calls while they do not
// change. At batch 1 a convolution reads each weight a few times at most,
// and packing them on every call (read, write, read again) cost as much as
// the multiply-adds on ResNet's 256- and 512-channel layers: 35% of a
// 512-channel 3x3 convolution at 7x7. ONNX Runtime packs its weights once,
// when the session is made; this cache does the same for a model run
// without gradients.
//
// An entry is keyed on the weight's storage (an id no other storage gets),
// its offset in it, and the kernel's layout (kind and sizes), and holds the
// storage's version when it was packed: every in-place write bumps the
// version (copy_, fill_, load_state_dict, the optimizers' steps), and a
// different version packs again and replaces the entry. Entries of storages
// that no longer exist are dropped; the least recently used go when the
// packed bytes would pass the capacity (EMBER_PACKED_WEIGHTS_MB, 256 MiB by
// default; 0 turns the cache off).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>

#include "engine/tensor.h"

namespace ember {

class PackedWeightCache {
 public:
  // What a kernel packs: its own tag and the sizes the packed layout
  // depends on.
  using Layout = std::array<int64_t, 5>;

  explicit PackedWeightCache(size_t capacity_bytes);

  // The packed form of `weight` (float32, CPU) in `layout`: `floats` values
  // written by pack(dst), run at most once per version of the weight while
  // the entry stays. Where the packed weights would not fit the capacity,
  // they are packed for this call and not kept.
  Tensor get(const Tensor& weight, const Layout& layout, int64_t floats, const std::function<void(float*)>& pack);

  size_t bytes() const;    // packed bytes kept now
  size_t entries() const;  // packed weights kept now
  uint64_t packs() const;  // calls of pack() so far: misses

 private:
  struct Key {
    uint64_t storage_id;
    size_t offset;
    Layout layout;
    auto operator<=>(const Key&) const = default;
  };
  struct Entry {
    std::weak_ptr<Storage> storage;
    uint64_t version;
    Tensor packed;
    std::list<Key>::iterator recent;  // its place in recent_, most recent first
  };
  void drop(std::map<Key, Entry>::iterator it);

  mutable std::mutex mutex_;
  size_t capacity_;
  size_t bytes_ = 0;
  uint64_t packs_ = 0;
  std::map<Key, Entry> entries_;
  std::list<Key> recent_;
};

// The process's cache of packed convolution weights (capacity from
// EMBER_PACKED_WEIGHTS_MB, read once).
PackedWeightCache& packed_weight_cache();

}  // namespace ember
