// .npy layout: "\x93NUMPY", major and minor version bytes, the header length
// (uint16 for version 1, uint32 for 2 and 3, little-endian), the header dict
// padded with spaces and a newline, then the raw little-endian data in C
// order. Data is read straight into the tensor's storage, after checking
// that the header's size matches the bytes present, so a corrupt header
// cannot make us allocate more than the file holds.
#include "weights/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "engine/error.h"
#include "weights/atomic_file.h"
#include "weights/npy_header.h"

namespace ember {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

void read_exact(const ReadFn& read, void* dst, size_t n, const std::string& where, const char* what) {
  size_t done = 0;
  while (done < n) {
    size_t got = read(static_cast<char*>(dst) + done, n - done);
    if (got == 0) fail("npy", where, ": truncated while reading ", what, " (got ", done, " of ", n, " bytes)");
    done += got;
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

Tensor read_npy_stream(const ReadFn& read, uint64_t total_size, const std::string& where) {
  uint8_t prefix[kMagicSize + 2];
  if (total_size < sizeof prefix) {
    fail("npy", where, ": not a .npy file (only ", total_size, " bytes)");
  }
  read_exact(read, prefix, sizeof prefix, where, "the magic string");
  if (std::memcmp(prefix, kMagic, kMagicSize) != 0) fail("npy", where, ": not a .npy file (bad magic string)");
  const int major = prefix[6];
  if (major < 1 || major > 3) {
    fail("npy", where, ": unsupported .npy format version ", major, ".", int(prefix[7]));
  }
  uint64_t header_len = 0;
  uint8_t len_bytes[4] = {0, 0, 0, 0};
  const size_t len_size = major == 1 ? 2 : 4;
  read_exact(read, len_bytes, len_size, where, "the header length");
  for (size_t i = 0; i < len_size; ++i) header_len |= uint64_t{len_bytes[i]} << (8 * i);
  const uint64_t data_offset = sizeof prefix + len_size + header_len;
  if (data_offset > total_size) {
    fail("npy", where, ": truncated (the header claims ", header_len, " bytes, the file has ", total_size, ")");
  }
  std::string text(header_len, '\0');
  read_exact(read, text.data(), text.size(), where, "the header");
  const NpyHeader h = parse_npy_header_dict(text, where);

  const uint64_t numel = static_cast<uint64_t>(shape_numel(h.shape));  // at most 2^62 (checked by the parser)
  if (numel > (uint64_t{1} << 56)) fail("npy", where, ": corrupt (shape ", h.shape, " is implausibly large)");
  const uint64_t nbytes = numel * dtype_size(h.dtype);
  if (nbytes != total_size - data_offset) {
    const uint64_t have = total_size - data_offset;
    fail("npy", where, ": ", have < nbytes ? "truncated" : "corrupt", " (shape ", h.shape, " of ", dtype_name(h.dtype),
         " needs ", nbytes, " data bytes, the file has ", have, ")");
  }
  Tensor t = empty(h.shape, h.dtype);
  read_exact(read, t.data_ptr(), nbytes, where, "the data");
  if (h.dtype == DType::Bool) {
    // NumPy writes 0/1, but a corrupt byte must not become an invalid C++ bool.
    auto* p = static_cast<uint8_t*>(t.data_ptr());
    for (uint64_t i = 0; i < nbytes; ++i) p[i] = p[i] != 0;
  }
  return t;
}

Tensor parse_npy(const void* data, size_t size, const std::string& where) {
  size_t pos = 0;
  auto read = [&](void* dst, size_t n) {
    size_t k = std::min(n, size - pos);
    std::memcpy(dst, static_cast<const char*>(data) + pos, k);
    pos += k;
    return k;
  };
  return read_npy_stream(read, size, where);
}

Tensor load_npy(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("load_npy", path, ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) fail("load_npy", path, ": not a regular file");
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail("load_npy", path, ": cannot read its size (", ec.message(), ")");
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) fail("load_npy", path, ": cannot open (", std::strerror(errno), ")");
  auto read = [&](void* dst, size_t n) {
    size_t got = std::fread(dst, 1, n, f.get());
    if (got == 0 && std::ferror(f.get())) fail("load_npy", path, ": read error (", std::strerror(errno), ")");
    return got;
  };
  return read_npy_stream(read, size, path);
}

std::string npy_header(const Tensor& t, const std::string& where) {
  std::string dict = format_npy_header_dict(t.dtype(), t.shape(), where);
  // Version 1 holds headers up to 65535 bytes; the total header is padded
  // with spaces to a multiple of 64 and ends in a newline, as NumPy does.
  const bool v1 = dict.size() + 1 + kMagicSize + 4 + 64 < 65536;
  const size_t prefix = kMagicSize + 2 + (v1 ? 2 : 4);
  size_t total = prefix + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(v1 ? 1 : 2);
  out += '\0';
  const uint32_t len = static_cast<uint32_t>(dict.size());
  for (size_t i = 0; i < (v1 ? 2u : 4u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + dict;
}

void save_npy(const std::string& path, const Tensor& t) {
  EMBER_CHECK(t.defined(), "save_npy", path, ": the tensor is undefined");
  const Tensor c = t.to(kCPU).contiguous();
  const std::string header = npy_header(c, path);
  write_file_atomically(path, "save_npy", [&](const std::string& tmp) {
    FilePtr f(std::fopen(tmp.c_str(), "wb"));
    if (!f) fail("save_npy", path, ": cannot create (", std::strerror(errno), ")");
    const size_t nbytes = static_cast<size_t>(c.numel()) * c.element_size();
    bool ok = std::fwrite(header.data(), 1, header.size(), f.get()) == header.size() &&
              (nbytes == 0 || std::fwrite(c.data_ptr(), 1, nbytes, f.get()) == nbytes);
    ok = std::fclose(f.release()) == 0 && ok;
    if (!ok) fail("save_npy", path, ": write failed (", std::strerror(errno), ")");
  });
}

}  // namespace ember
