// A float buffer aligned to a cache line (64 bytes) that only grows: scratch
// space for packed panels that 16-float loads read. std::vector's storage is
// only 16-byte aligned (here 16 or 48 bytes past a line), and then every
// 64-byte load from a packed panel straddled two cache lines; aligned,
// sgemm's 1x1 convolutions ran 1.02-1.07x faster (ResNet-50's, one thread,
// the two versions alternating). Growing does not keep the contents: every
// caller writes what it then reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace ember {

class AlignedScratch {
 public:
  // At least n floats, 64-byte aligned; valid until the next call that grows it.
  float* at_least(int64_t n) {
    const size_t want = static_cast<size_t>(n);
    if (want > size_) {
      const size_t bytes = (want * sizeof(float) + kLine - 1) / kLine * kLine;
      data_.reset(static_cast<float*>(std::aligned_alloc(kLine, bytes)));
      if (!data_) throw std::bad_alloc();
      size_ = want;
    }
    return data_.get();
  }

 private:
  static constexpr size_t kLine = 64;
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t size_ = 0;
};

}  // namespace ember
