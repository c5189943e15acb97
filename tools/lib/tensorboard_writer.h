// TensorBoard event files for scalar curves, readable by the real
// TensorBoard (`tensorboard --logdir FOLDER`).
//
//   TensorBoardWriter tb("runs/resnet18");
//   tb.add_scalar("Loss/train", 0.412, step);
//   tb.flush();                                   // at least once per epoch
//
// The file is FOLDER/events.out.tfevents.<unix time>.<hostname>: a sequence
// of TFRecords (uint64 length, masked CRC32C of the length, the serialised
// Event, masked CRC32C of the data), the first Event carrying the file
// version "brain.Event:2", then one Event per scalar (wall time, step,
// summary with one tag + simple_value). Events are buffered and written by
// flush(), every 30 seconds by add_scalar, and by the destructor; a write
// that fails (disk full, folder removed) throws ember::Error naming the
// file, so a trainer can report it and go on or stop.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ember {

class TensorBoardWriter {
 public:
  // Creates `folder` (and its parents) when missing and opens a new event
  // file there; throws ember::Error when either fails.
  explicit TensorBoardWriter(const std::string& folder);
  ~TensorBoardWriter();  // flushes; reports a failure on stderr, never throws
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One point of the curve `tag` (e.g. "Loss/train") at `step`; stored as a
  // float, as TensorBoard does. wall_time defaults to now.
  void add_scalar(const std::string& tag, double value, int64_t step);
  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time);
  // Writes the buffered events to disk.
  void flush();
  // Flushes and closes the file; later calls do nothing.
  void close();

  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event_bytes);
  std::string path_;
  std::FILE* file_ = nullptr;
  std::chrono::steady_clock::time_point last_flush_;
};

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of the bytes, as
// TFRecord uses it, and its masked form ((crc >> 15 | crc << 17) + 0xa282ead8).
uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);
// One TFRecord: length, masked CRC of the length, data, masked CRC of the data.
std::string tfrecord_frame(std::string_view data);

}  // namespace ember
