// A CSV log of a run's scalars, one row per (epoch, step), one column per
// scalar name, for a spreadsheet or pandas:
//
//   epoch,step,Loss/train,Accuracy/train,lr,Loss/val,Accuracy/val
//   1,938,0.41234568,0.8512,0.1,0.38,0.861
//   2,1876,0.30112,0.8901,0.1,,
//
// Columns are epoch, step, then the scalar names in the order they were
// first logged; a scalar missing from a row is an empty cell. A name seen
// for the first time adds a column: the file is rewritten with the new
// header (to a temp file renamed over the log, so a kill never leaves half
// a log). Logging the same (epoch, step) as the last row again merges into
// that row (validation scalars after the training ones of the same epoch).
// Every call leaves the file complete and flushed, so a killed run keeps
// its log. Values are written in the shortest form that reads back the same:
// a double as that double, and a value that is exactly a float (a float32
// loss) as that float (0.41234568, not 0.41234567761421204).
// Failures (folder cannot be created, disk full) throw ember::Error naming
// the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember {

class CsvLog {
 public:
  // Creates the parent folder when missing. append = false starts a new log
  // (replacing an existing file); append = true keeps the rows of an
  // existing log (a resumed run) and adds after them.
  explicit CsvLog(std::string path, bool append = false);
  ~CsvLog();
  CsvLog(const CsvLog&) = delete;
  CsvLog& operator=(const CsvLog&) = delete;

  // Sets the scalars of row (epoch, step) and writes it.
  void log(int64_t epoch, int64_t step, const std::vector<std::pair<std::string, double>>& scalars);

  const std::string& path() const { return path_; }
  // "epoch", "step", then the scalar names in first-logged order.
  std::vector<std::string> columns() const;

 private:
  struct Row {
    int64_t epoch = 0, step = 0;
    std::vector<std::optional<double>> values;  // one per scalar column
  };
  void read_existing();
  void rewrite_all();
  void open_for_append();
  void write_row(const Row& row);
  void write_text(const std::string& text);
  void flush();

  std::string path_;
  std::vector<std::string> names_;  // scalar columns
  std::vector<Row> rows_;
  std::FILE* file_ = nullptr;
  long last_row_offset_ = 0;  // where the last row starts, to rewrite it on a merge
};

}  // namespace ember
