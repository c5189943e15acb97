#include "tools/lib/csv_log.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace ember {
namespace {

// RFC 4180: quote a field holding a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

// The shortest text that reads back as the same value; a value that is
// exactly a float (most losses are) prints as that float, not as the
// 17-digit double it widened to.
std::string format_value(double v) {
  char buf[64];
  std::to_chars_result r{};
  auto f = static_cast<float>(v);
  if (std::isfinite(v) && static_cast<double>(f) == v)
    r = std::to_chars(buf, buf + sizeof(buf), f);
  else
    r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

CsvLog::CsvLog(std::string path, bool append) : path_(std::move(path)) {
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec || !std::filesystem::is_directory(parent))
      fail("CsvLog", "cannot create the log folder ", parent.string(), ": ",
           ec ? ec.message() : "a file of that name is in the way");
  }
  if (append && std::filesystem::exists(path_)) read_existing();
  rewrite_all();
}

CsvLog::~CsvLog() {
  if (file_) std::fclose(file_);
}

std::vector<std::string> CsvLog::columns() const {
  std::vector<std::string> cols = {"epoch", "step"};
  cols.insert(cols.end(), names_.begin(), names_.end());
  return cols;
}

void CsvLog::log(int64_t epoch, int64_t step, const std::vector<std::pair<std::string, double>>& scalars) {
  bool new_column = false;
  std::vector<size_t> index;
  for (const auto& [name, value] : scalars) {
    EMBER_CHECK(name != "epoch" && name != "step", "CsvLog", path_, ": '", name, "' is a reserved column");
    size_t i = 0;
    while (i < names_.size() && names_[i] != name) ++i;
    if (i == names_.size()) {
      names_.push_back(name);
      new_column = true;
    }
    index.push_back(i);
  }
  bool merge = !rows_.empty() && rows_.back().epoch == epoch && rows_.back().step == step;
  if (!merge) rows_.push_back(Row{epoch, step, {}});
  Row& row = rows_.back();
  row.values.resize(names_.size());
  for (size_t k = 0; k < scalars.size(); ++k) row.values[index[k]] = scalars[k].second;

  if (new_column) {
    for (Row& r : rows_) r.values.resize(names_.size());
    rewrite_all();
    return;
  }
  if (merge) {
    // Drop the last row's old text and write it again, merged.
    if (std::fflush(file_) != 0 || ftruncate(fileno(file_), last_row_offset_) != 0 ||
        std::fseek(file_, last_row_offset_, SEEK_SET) != 0)
      fail("CsvLog", "cannot rewrite the last row of ", path_, ": ", errno_text());
  } else {
    last_row_offset_ = std::ftell(file_);
  }
  write_row(row);
  flush();
}

void CsvLog::read_existing() {
  std::ifstream in(path_);
  EMBER_CHECK(in, "CsvLog", "cannot read ", path_, " to append to it");
  std::string line;
  if (!std::getline(in, line)) return;  // empty file: a new log
  std::vector<std::string> header = split_csv_line(line);
  EMBER_CHECK(header.size() >= 2 && header[0] == "epoch" && header[1] == "step", "CsvLog", path_,
              ": not a CSV log of Ember's (its header does not start with epoch,step)");
  names_.assign(header.begin() + 2, header.end());
  for (int64_t line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty() || line == "\r") continue;
    std::vector<std::string> f = split_csv_line(line);
    EMBER_CHECK(f.size() == header.size(), "CsvLog", path_, ":", line_no, ": ", f.size(), " fields, the header has ",
                header.size());
    Row row;
    char* end = nullptr;
    row.epoch = std::strtoll(f[0].c_str(), &end, 10);
    row.step = std::strtoll(f[1].c_str(), &end, 10);
    for (size_t i = 2; i < f.size(); ++i) {
      if (f[i].empty()) {
        row.values.emplace_back();
        continue;
      }
      double v = std::strtod(f[i].c_str(), &end);
      EMBER_CHECK(*end == '\0', "CsvLog", path_, ":", line_no, ": '", f[i], "' is not a number");
      row.values.emplace_back(v);
    }
    rows_.push_back(std::move(row));
  }
}

// Writes the whole log to a temp file and renames it over the log, so the
// log on disk is always complete, then keeps the new file open to append.
void CsvLog::rewrite_all() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
  std::string tmp = path_ + ".tmp";
  file_ = std::fopen(tmp.c_str(), "wb");
  if (!file_) fail("CsvLog", "cannot create ", tmp, ": ", errno_text());
  try {
    std::string header;
    for (const std::string& c : columns()) header += (header.empty() ? "" : ",") + csv_field(c);
    write_text(header + "\n");
    for (const Row& r : rows_) {
      last_row_offset_ = std::ftell(file_);
      write_row(r);
    }
    flush();
  } catch (const Error&) {
    std::fclose(file_);
    file_ = nullptr;
    std::remove(tmp.c_str());
    throw;
  }
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::string why = errno_text();
    std::remove(tmp.c_str());
    fail("CsvLog", "cannot replace ", path_, ": ", why);
  }
  open_for_append();
}

void CsvLog::open_for_append() {
  file_ = std::fopen(path_.c_str(), "r+b");
  if (!file_ || std::fseek(file_, 0, SEEK_END) != 0) fail("CsvLog", "cannot open ", path_, ": ", errno_text());
}

void CsvLog::write_row(const Row& row) {
  std::string line = std::to_string(row.epoch) + "," + std::to_string(row.step);
  for (const std::optional<double>& v : row.values) line += "," + (v ? format_value(*v) : std::string());
  write_text(line + "\n");
}

void CsvLog::write_text(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size())
    fail("CsvLog", "cannot write to ", path_, ": ", errno_text());
}

void CsvLog::flush() {
  if (std::fflush(file_) != 0) fail("CsvLog", "cannot write to ", path_, ": ", errno_text());
}

}  // namespace ember
