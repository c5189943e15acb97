#include "tools/lib/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace ember {

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(fileno(stdout)) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::rate() const {
  double t = elapsed_seconds();
  return t > 0 ? static_cast<double>(items_) / t : 0.0;
}

void ProgressBar::update(int64_t step, int64_t items, const std::vector<std::pair<std::string, std::string>>& metrics) {
  step_ = step;
  items_ += items;
  metrics_ = metrics;
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (step_ == total_ || now - last_draw_ > std::chrono::milliseconds(100)) {
      last_draw_ = now;
      draw(false);
    }
  } else {
    int decile = total_ > 0 ? static_cast<int>(10 * step_ / total_) : 10;
    if (decile != last_decile_ && decile < 10) {
      last_decile_ = decile;
      draw(false);
    }
  }
}

void ProgressBar::finish() { draw(true); }

void ProgressBar::draw(bool final) {
  const int width = 24;
  double frac = total_ > 0 ? static_cast<double>(step_) / static_cast<double>(total_) : 1.0;
  int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar += std::string(static_cast<size_t>(width - filled), '-');
  double elapsed = elapsed_seconds();
  double eta = step_ > 0 ? elapsed / static_cast<double>(step_) * static_cast<double>(total_ - step_) : -1;
  std::string line = label_ + " [" + bar + "] ";
  char buf[128];
  std::snprintf(buf, sizeof buf, "%3d%% %lld/%lld", static_cast<int>(frac * 100), static_cast<long long>(step_),
                static_cast<long long>(total_));
  line += buf;
  for (const auto& [name, value] : metrics_) line += "  " + name + " " + value;
  std::snprintf(buf, sizeof buf, "  %.0f %s/s", rate(), unit_.c_str());
  line += buf;
  line += final ? "  " + format_duration(elapsed) : "  ETA " + format_duration(eta);
  if (tty_) {
    std::printf("\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

}  // namespace ember
