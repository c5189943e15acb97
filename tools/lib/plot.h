// PNG charts drawn by Ember itself, for a run's folder: line charts (loss
// and accuracy curves) and confusion-matrix heat maps.
//
//   LineChart c{"Loss", "epoch", "loss", {{"train", {1, 2, 3}, {0.9, 0.5, 0.4}},
//                                         {"val", {1, 2, 3}, {0.8, 0.6, 0.55}}}};
//   write_line_chart("runs/x/loss.png", c);
//   write_confusion_matrix("runs/x/confusion.png", {"Confusion matrix", metrics.confusion_matrix(), names});
//
// Lines are anti-aliased, axes get round-numbered ticks (1, 2 or 5 times a
// power of ten; whole numbers when every x is whole, as epochs are) with a
// grid, and series take distinct colours (matplotlib's tab10) with a legend
// on the right. NaN and infinite points are skipped (the line breaks there).
// The confusion matrix colours each cell by its count's share of the row
// (the true class; or by the count itself), prints the counts up to ~20
// classes and, past that, only the colours and every n-th class name.
// Text is DejaVu Sans (Debian fonts-dejavu-core) through stb_truetype;
// without the font file, rendering throws an ember::Error naming it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "engine/tensor.h"

namespace ember {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

struct Series {
  std::string name;
  std::vector<double> x, y;  // the same length
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  int width = 800, height = 500;
};

struct ConfusionChart {
  std::string title = "Confusion matrix";
  Tensor counts;                         // integer [C, C]: rows = true class, columns = predicted
  std::vector<std::string> class_names;  // empty: the class indices
  bool normalize_rows = true;            // colour = count / row total; false: count / largest count
};

// Where a chart put things, for callers (and tests) that map data to pixels.
struct ChartLayout {
  int left = 0, top = 0, right = 0, bottom = 0;  // the plot area (line chart) or the matrix (heat map), pixels
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;  // the line chart's axis ranges (left to right, bottom to top)
  int cell = 0;                                       // the heat map's cell size in pixels
};

Image render_line_chart(const LineChart& chart, ChartLayout* layout = nullptr);
Image render_confusion_matrix(const ConfusionChart& chart, ChartLayout* layout = nullptr);
// Render and write a PNG, creating the parent folder; errors name the file.
void write_line_chart(const std::string& path, const LineChart& chart);
void write_confusion_matrix(const std::string& path, const ConfusionChart& chart);

// The colour of the i-th series (tab10, repeating) and of the heat map's
// scale at t in [0, 1] (ColorBrewer "Blues", light to dark).
Rgb series_color(size_t i);
Rgb heat_color(double t);
// Round tick values inside [lo, hi], about `target` of them, step 1, 2 or 5
// times a power of ten (at least 1 when integer_step). A range of one value
// is widened around it.
std::vector<double> nice_ticks(double lo, double hi, int target = 6, bool integer_step = false);

// The font every chart uses.
inline constexpr const char* kPlotFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

}  // namespace ember
