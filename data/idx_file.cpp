// IDX layout: a 4-byte magic (0, 0, type code, number of dims), one
// big-endian uint32 size per dim, then the values, big-endian.
#include "data/idx_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/error.h"

namespace ember {
namespace {

struct GzFile {
  gzFile f;
  explicit GzFile(const std::string& path) : f(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f) gzclose(f);
  }
};

void read_exact(GzFile& file, void* dst, size_t n, const std::string& path, const char* what) {
  size_t done = 0;
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    int got = gzread(file.f, static_cast<char*>(dst) + done, chunk);
    if (got <= 0) {
      int err = 0;
      const char* msg = gzerror(file.f, &err);
      fail("read_idx", path, ": truncated or corrupt while reading ", what, " (got ", done, " of ", n, " bytes",
           err < 0 ? std::string(", ") + msg : std::string(), ")");
    }
    done += static_cast<size_t>(got);
  }
}

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

Tensor read_idx(const std::string& path) {
  GzFile file(path);
  if (!file.f) fail("read_idx", path, ": cannot open (", std::strerror(errno), ")");
  uint8_t magic[4];
  read_exact(file, magic, 4, path, "the header");
  if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > 8) {
    fail("read_idx", path, ": not an IDX file (bad magic number)");
  }
  const uint8_t type = magic[2];
  size_t elem;
  switch (type) {
    case 0x08: case 0x09: elem = 1; break;
    case 0x0B: elem = 2; break;
    case 0x0C: case 0x0D: elem = 4; break;
    case 0x0E: elem = 8; break;
    default: fail("read_idx", path, ": unknown IDX element type 0x", std::hex, int(type));
  }
  Shape shape(magic[3]);
  for (int64_t& s : shape) {
    uint8_t b[4];
    read_exact(file, b, 4, path, "the dimensions");
    s = big_endian32(b);
  }
  const int64_t n = shape_numel(shape);
  std::vector<uint8_t> raw(static_cast<size_t>(n) * elem);
  read_exact(file, raw.data(), raw.size(), path, "the data");

  auto be = [&](int64_t i, size_t bytes) {
    uint64_t v = 0;
    for (size_t k = 0; k < bytes; ++k) v = (v << 8) | raw[static_cast<size_t>(i) * bytes + k];
    return v;
  };
  switch (type) {
    case 0x08: return from_blob_copy(raw.data(), shape, DType::UInt8);
    case 0x09: case 0x0B: case 0x0C: {
      Tensor t = empty(shape, DType::Int32);
      int32_t* p = t.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) {
        uint64_t v = be(i, elem);
        p[i] = elem == 1 ? static_cast<int8_t>(v) : elem == 2 ? static_cast<int16_t>(v) : static_cast<int32_t>(v);
      }
      return t;
    }
    case 0x0D: {
      Tensor t = empty(shape, DType::Float32);
      float* p = t.data<float>();
      for (int64_t i = 0; i < n; ++i) {
        uint32_t v = static_cast<uint32_t>(be(i, 4));
        std::memcpy(&p[i], &v, 4);
      }
      return t;
    }
    default: {
      Tensor t = empty(shape, DType::Float64);
      double* p = t.data<double>();
      for (int64_t i = 0; i < n; ++i) {
        uint64_t v = be(i, 8);
        std::memcpy(&p[i], &v, 8);
      }
      return t;
    }
  }
}

}  // namespace ember
