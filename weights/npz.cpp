// .npz through libzip. Reading streams each entry straight into its tensor
// (weights/npy.cpp checks sizes before allocating); before trusting an
// entry's stated size we bound it by what its compressed bytes can hold, so
// a corrupt directory cannot make us allocate gigabytes. Writing streams
// each tensor through a libzip source callback instead of building the
// whole archive in memory.
#include "weights/npz.h"

#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "engine/error.h"
#include "weights/atomic_file.h"
#include "weights/npy.h"

namespace ember {
namespace {

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

[[noreturn]] void fail_open(const std::string& where, zip_error_t* err) {
  const int code = zip_error_code_zip(err);
  const std::string text = zip_error_strerror(err);
  zip_error_fini(err);
  if (code == ZIP_ER_NOZIP) fail("npz", where, ": not a zip archive (an .npz file is a zip of .npy files)");
  if (code == ZIP_ER_NOENT) fail("npz", where, ": no such file");
  fail("npz", where, ": cannot open as a zip archive (", text, ")");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

NamedTensors read_archive(zip_t* za, const std::string& where) {
  NamedTensors out;
  std::set<std::string> seen;
  const zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
        !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE) || !(st.valid & ZIP_STAT_COMP_METHOD)) {
      fail("npz", where, ": corrupt zip directory at entry ", i, " (", zip_strerror(za), ")");
    }
    const std::string entry = st.name;
    if (ends_with(entry, "/")) continue;  // a folder entry holds no array
    if (!ends_with(entry, ".npy")) fail("npz", where, ": entry '", entry, "' is not an .npy array");
    const std::string name = entry.substr(0, entry.size() - 4);
    const std::string what = where + ": array '" + name + "'";
    if (!seen.insert(name).second) fail("npz", what, " appears twice");
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
      fail("npz", what, ": unsupported zip compression method ", st.comp_method, " (only stored and deflate)");
    }
    // Deflate expands at most ~1032:1; a larger claim is a corrupt header.
    const uint64_t bound = st.comp_method == ZIP_CM_STORE ? st.comp_size : st.comp_size * 1032 + 1024;
    if (st.size > bound) {
      fail("npz", what, ": corrupt zip entry (claims ", st.size, " bytes from ", st.comp_size, " compressed)");
    }
    zip_file_t* zf = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
    if (!zf) fail("npz", what, ": cannot open the entry (", zip_strerror(za), ")");
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zf, zip_fclose);
    auto read = [&](void* dst, size_t len) -> size_t {
      zip_int64_t got = zip_fread(zf, dst, len);
      if (got < 0) fail("npz", what, ": corrupt entry (", zip_file_strerror(zf), ")");
      return static_cast<size_t>(got);
    };
    Tensor t = read_npy_stream(read, st.size, what);
    // Reading to the end makes libzip check the CRC.
    char extra;
    if (read(&extra, 1) != 0) fail("npz", what, ": corrupt entry (more data than its stated size)");
    out.emplace_back(name, std::move(t));
  }
  return out;
}

// Streams "header + tensor bytes" to libzip for one entry.
struct EntrySource {
  std::string header;
  Tensor data;  // contiguous, on the CPU
  uint64_t pos = 0;
  zip_error_t error;

  uint64_t size() const { return header.size() + static_cast<uint64_t>(data.numel()) * data.element_size(); }
  static zip_int64_t callback(void* user, void* buf, zip_uint64_t len, zip_source_cmd_t cmd) {
    auto* s = static_cast<EntrySource*>(user);
    switch (cmd) {
      case ZIP_SOURCE_OPEN: s->pos = 0; return 0;
      case ZIP_SOURCE_READ: {
        uint64_t done = 0;
        auto* out = static_cast<char*>(buf);
        while (done < len && s->pos < s->size()) {
          const char* src;
          uint64_t avail;
          if (s->pos < s->header.size()) {
            src = s->header.data() + s->pos;
            avail = s->header.size() - s->pos;
          } else {
            const uint64_t off = s->pos - s->header.size();
            src = static_cast<const char*>(s->data.data_ptr()) + off;
            avail = s->size() - s->pos;
          }
          const uint64_t k = std::min<uint64_t>(avail, len - done);
          std::memcpy(out + done, src, k);
          done += k;
          s->pos += k;
        }
        return static_cast<zip_int64_t>(done);
      }
      case ZIP_SOURCE_CLOSE: return 0;
      case ZIP_SOURCE_STAT: {
        auto* st = static_cast<zip_stat_t*>(buf);
        zip_stat_init(st);
        st->size = s->size();
        st->valid |= ZIP_STAT_SIZE;
        return sizeof(zip_stat_t);
      }
      case ZIP_SOURCE_ERROR: return zip_error_to_data(&s->error, buf, len);
      case ZIP_SOURCE_FREE:
        zip_error_fini(&s->error);
        delete s;
        return 0;
      case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
      default: zip_error_set(&s->error, ZIP_ER_OPNOTSUPP, 0); return -1;
    }
  }
};

}  // namespace

NamedTensors load_npz(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("load_npz", path, ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) fail("load_npz", path, ": not a regular file");
  int code = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!za) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    fail_open(path, &e);
  }
  ZipPtr owner(za);
  return read_archive(za, path);
}

NamedTensors parse_npz(const void* data, size_t size, const std::string& where) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(data, size, 0, &err);
  if (!src) fail_open(where, &err);
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!za) {
    zip_source_free(src);
    fail_open(where, &err);
  }
  zip_error_fini(&err);
  ZipPtr owner(za);
  return read_archive(za, where);
}

void save_npz(const std::string& path, const NamedTensors& arrays, bool compress) {
  std::set<std::string> names;
  for (const auto& [name, t] : arrays) {
    EMBER_CHECK(!name.empty(), "save_npz", path, ": an array has an empty name");
    EMBER_CHECK(names.insert(name).second, "save_npz", path, ": the name '", name, "' appears twice");
    EMBER_CHECK(t.defined(), "save_npz", path, ": array '", name, "' is undefined");
  }
  write_file_atomically(path, "save_npz", [&](const std::string& tmp) {
    if (arrays.empty()) {
      // libzip deletes an archive left empty; write the 22-byte empty zip
      // (end-of-central-directory record only), as np.savez() does.
      static const char kEmptyZip[22] = {'P', 'K', 5, 6};
      std::FILE* f = std::fopen(tmp.c_str(), "wb");
      bool ok = f && std::fwrite(kEmptyZip, 1, sizeof kEmptyZip, f) == sizeof kEmptyZip;
      if (f) ok = std::fclose(f) == 0 && ok;
      if (!ok) fail("save_npz", path, ": cannot write");
      return;
    }
    int code = 0;
    zip_t* za = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!za) fail("save_npz", path, ": cannot create (", zip_error_text(code), ")");
    ZipPtr owner(za);
    for (const auto& [name, t] : arrays) {
      const std::string what = path + ": array '" + name + "'";
      auto* s = new EntrySource;
      zip_error_init(&s->error);
      s->data = t.to(kCPU).contiguous();
      s->header = npy_header(s->data, what);
      zip_source_t* src = zip_source_function(za, &EntrySource::callback, s);
      if (!src) {
        zip_error_fini(&s->error);
        delete s;
        fail("save_npz", what, ": ", zip_strerror(za));
      }
      const zip_int64_t idx = zip_file_add(za, (name + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8);
      if (idx < 0) {
        zip_source_free(src);  // frees s through ZIP_SOURCE_FREE
        fail("save_npz", what, ": ", zip_strerror(za));
      }
      if (zip_set_file_compression(za, static_cast<zip_uint64_t>(idx), compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) !=
          0) {
        fail("save_npz", what, ": ", zip_strerror(za));
      }
    }
    // zip_close writes everything (reading the sources) and frees the archive.
    if (zip_close(za) != 0) fail("save_npz", path, ": cannot write (", zip_strerror(za), ")");
    owner.release();
  });
}

std::map<std::string, Tensor> to_map(const NamedTensors& arrays, const std::string& where) {
  std::map<std::string, Tensor> m;
  for (const auto& [name, t] : arrays) {
    if (!m.emplace(name, t).second) fail("npz", where, ": the name '", name, "' appears twice");
  }
  return m;
}

}  // namespace ember
