#include "tools/lib/tensorboard_writer.h"

#include <isa-l/crc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "engine/error.h"
#include "tools/lib/tensorboard_event.pb.h"

namespace ember {
namespace {

constexpr auto kAutoFlush = std::chrono::seconds(30);

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  // ISA-L's crc32_iscsi neither pre- nor post-inverts; CRC-32C does both.
  // Its length is an int, so long inputs go in pieces.
  uint32_t crc = 0xffffffffu;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t left = bytes.size();
  while (left > 0) {
    int n = static_cast<int>(std::min<size_t>(left, 1u << 30));
    crc = crc32_iscsi(const_cast<unsigned char*>(p), n, crc);
    p += n;
    left -= static_cast<size_t>(n);
  }
  return ~crc;
}

uint32_t masked_crc32c(std::string_view bytes) {
  uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_le(out, data.size(), 8);
  put_le(out, masked_crc32c(out), 4);  // out holds exactly the 8 length bytes here
  out.append(data);
  put_le(out, masked_crc32c(data), 4);
  return out;
}

TensorBoardWriter::TensorBoardWriter(const std::string& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec || !std::filesystem::is_directory(folder))
    fail("TensorBoardWriter", "cannot create the log folder ", folder, ": ",
         ec ? ec.message() : "a file of that name is in the way");
  // TensorBoard's naming; a second writer in the same second gets a suffix
  // rather than overwriting the first one's file ("x": fail if it exists).
  std::string base = (std::filesystem::path(folder) /
                      ("events.out.tfevents." + std::to_string(static_cast<int64_t>(now_seconds())) + "." +
                       host_name()))
                         .string();
  path_ = base;
  for (int i = 1; (file_ = std::fopen(path_.c_str(), "wbx")) == nullptr; ++i) {
    if (errno != EEXIST || i > 100) fail("TensorBoardWriter", "cannot create ", path_, ": ", std::strerror(errno));
    path_ = base + "." + std::to_string(i);
  }
  tensorboard::Event first;
  first.set_wall_time(now_seconds());
  first.set_file_version("brain.Event:2");
  write_record(first.SerializeAsString());
  flush();  // the file is valid (and visible to TensorBoard) from the start
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::cerr << "warning: " << e.what() << "\n";
  }
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  add_scalar(tag, value, step, now_seconds());
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step, double wall_time) {
  EMBER_CHECK(file_ != nullptr, "TensorBoardWriter", path_, " is closed");
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  tensorboard::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_record(event.SerializeAsString());
  if (std::chrono::steady_clock::now() - last_flush_ > kAutoFlush) flush();
}

void TensorBoardWriter::write_record(const std::string& event_bytes) {
  std::string record = tfrecord_frame(event_bytes);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    fail("TensorBoardWriter", "cannot write to ", path_, ": ", std::strerror(errno));
}

void TensorBoardWriter::flush() {
  if (file_ == nullptr) return;
  if (std::fflush(file_) != 0) fail("TensorBoardWriter", "cannot write to ", path_, ": ", std::strerror(errno));
  last_flush_ = std::chrono::steady_clock::now();
}

void TensorBoardWriter::close() {
  if (file_ == nullptr) return;
  std::FILE* f = file_;
  file_ = nullptr;
  int flushed = std::fflush(f), err = errno;
  int closed = std::fclose(f);
  if (flushed != 0 || closed != 0)
    fail("TensorBoardWriter", "cannot write to ", path_, ": ", std::strerror(flushed != 0 ? err : errno));
}

}  // namespace ember
