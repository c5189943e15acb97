#include "weights/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace ember {
namespace {

std::string temp_path_beside(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  namespace fs = std::filesystem;
  fs::path p(path);
  // Hidden, unique per process and call, in the same folder so that the
  // final rename stays on one file system (and so is atomic).
  std::string name = "." + p.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                     std::to_string(counter.fetch_add(1));
  return (p.parent_path() / name).string();
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const char* op,
                           const std::function<void(const std::string& tmp_path)>& write) {
  EMBER_CHECK(!path.empty(), op, "empty output path");
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    fail(op, path, ": the folder ", parent.string(), " does not exist");
  }
  const std::string tmp = temp_path_beside(path);
  try {
    write(tmp);
    fsync_path(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      fail(op, path, ": cannot rename the temporary file into place (", std::strerror(errno), ")");
    }
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  // Make the rename itself durable.
  fsync_path(parent.empty() ? "." : parent.string());
}

}  // namespace ember
