// A terminal progress bar with rate and ETA:
//   epoch 1/3 [##########----------]  52% 489/938  loss 0.4123  acc 85.1%  1843 img/s  ETA 0:12
// On a terminal it redraws one line; in a log (not a TTY) it prints a line
// every 10% so CI logs stay short.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ember {

class ProgressBar {
 public:
  // total: number of steps; unit: what the rate counts ("img").
  ProgressBar(std::string label, int64_t total, std::string unit = "img");
  // Advances to `step` (1-based), having processed `items` more units; the
  // metrics are printed as "name value".
  void update(int64_t step, int64_t items, const std::vector<std::pair<std::string, std::string>>& metrics = {});
  // Ends the line.
  void finish();
  double elapsed_seconds() const;
  double rate() const;  // units per second so far

 private:
  void draw(bool final);
  std::string label_, unit_;
  int64_t total_, step_ = 0, items_ = 0;
  int last_decile_ = -1;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::vector<std::pair<std::string, std::string>> metrics_;
};

// "1:02:03" / "2:03".
std::string format_duration(double seconds);

}  // namespace ember
