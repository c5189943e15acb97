// Charts: the PNG is decoded by PIL (Debian python3-pil) and must equal the
// rendered image; then geometric checks: each data point's marker has its
// series' colour where the layout says it is, each confusion-matrix cell
// the scale's colour for its share, and the charts are not blank.
// EMBER_PLOT_SAMPLES=DIR also writes sample charts there to look at.
#include "tools/lib/plot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "engine/ember.h"
#include "tests/support/oracle.h"
#include "tests/tools/python_tool.h"

namespace ember::test {
namespace {

namespace fs = std::filesystem;

Rgb pixel(const Image& im, int x, int y) { return {im.at(y, x, 0), im.at(y, x, 1), im.at(y, x, 2)}; }

// Decodes `png` with PIL and checks it equals `expected`, pixel for pixel.
void expect_png_equals(const fs::path& png, const Image& expected) {
  fs::path raw = png.string() + ".rgb";
  nlohmann::json info = log_oracle(system_python(), {"png", png.string(), raw.string()});
  ASSERT_FALSE(info.is_null());
  EXPECT_EQ(info["format"], "PNG");
  EXPECT_EQ(info["mode"], "RGB");
  ASSERT_EQ(info["width"].get<int>(), expected.width);
  ASSERT_EQ(info["height"].get<int>(), expected.height);
  std::ifstream in(raw, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), expected.pixels.size());
  EXPECT_EQ(std::memcmp(bytes.data(), expected.pixels.data(), bytes.size()), 0) << "decoded PNG differs";
}

// How many distinct colours, and how many pixels are not white.
std::pair<size_t, int64_t> colour_stats(const Image& im) {
  std::set<uint32_t> colours;
  int64_t inked = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      Rgb p = pixel(im, x, y);
      colours.insert(uint32_t{p.r} << 16 | uint32_t{p.g} << 8 | p.b);
      inked += !(p == Rgb{255, 255, 255});
    }
  return {colours.size(), inked};
}

LineChart loss_chart() {
  LineChart c;
  c.title = "Loss";
  c.x_label = "epoch";
  c.y_label = "cross-entropy";
  Series train{"train", {}, {}}, val{"val", {}, {}};
  for (int e = 1; e <= 12; ++e) {
    train.x.push_back(e);
    train.y.push_back(2.3 * std::exp(-0.35 * e) + 0.15);
    val.x.push_back(e);
    val.y.push_back(2.1 * std::exp(-0.3 * e) + 0.32 + 0.004 * e * e);
  }
  c.series = {train, val};
  return c;
}

TEST(Plot, NiceTicks) {
  EXPECT_EQ(nice_ticks(0.3, 2.3), (std::vector<double>{0.5, 1, 1.5, 2}));
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_EQ(nice_ticks(1, 12, 8, true), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(nice_ticks(1, 3, 8, true), (std::vector<double>{1, 2, 3}));  // whole steps for epochs
  EXPECT_EQ(nice_ticks(-3, 7), (std::vector<double>{-2, 0, 2, 4, 6}));
  std::vector<double> flat = nice_ticks(5, 5);  // a constant series still gets ticks around it
  EXPECT_GE(flat.size(), 3u);
  EXPECT_NE(std::find(flat.begin(), flat.end(), 5.0), flat.end());
  std::vector<double> tiny = nice_ticks(0.8612, 0.8617);
  EXPECT_GE(tiny.front(), 0.8612);
  EXPECT_LE(tiny.back(), 0.8617);
  EXPECT_GE(tiny.size(), 3u);
  EXPECT_LE(tiny.size(), 8u);
}

TEST(Plot, SeriesColoursAreDistinct) {
  std::set<uint32_t> seen;
  for (size_t i = 0; i < 10; ++i) {
    Rgb c = series_color(i);
    seen.insert(uint32_t{c.r} << 16 | uint32_t{c.g} << 8 | c.b);
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(heat_color(0), (Rgb{247, 251, 255}));
  EXPECT_EQ(heat_color(1), (Rgb{8, 48, 107}));
}

TEST(Plot, LineChartDecodesAndPointsHaveTheirSeriesColour) {
  EMBER_REQUIRE_PYTHON_MODULE(system_python(), "PIL");
  LineChart chart = loss_chart();
  ChartLayout layout;
  Image im = render_line_chart(chart, &layout);
  EXPECT_EQ(im.width, 800);
  EXPECT_EQ(im.height, 500);
  fs::path png = test_folder("plot_line") / "charts" / "loss.png";
  write_line_chart(png.string(), chart);
  expect_png_equals(png, im);

  auto [colours, inked] = colour_stats(im);
  EXPECT_GT(colours, 20u);  // anti-aliased lines and text
  EXPECT_GT(inked, 5000);
  EXPECT_LT(inked, im.width * im.height / 2);
  // The axes enclose the data, with round ends.
  double y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : chart.series)
    for (double y : s.y) y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
  EXPECT_LT(layout.x_min, 1);
  EXPECT_GT(layout.x_max, 12);
  EXPECT_LT(layout.y_min, y_lo);
  EXPECT_GT(layout.y_max, y_hi);
  auto to_px = [&](double x, double y) {
    double px = layout.left + 0.5 + (x - layout.x_min) / (layout.x_max - layout.x_min) * (layout.right - layout.left);
    double py = layout.bottom + 0.5 - (y - layout.y_min) / (layout.y_max - layout.y_min) * (layout.bottom - layout.top);
    return std::pair<int, int>{static_cast<int>(std::floor(px)), static_cast<int>(std::floor(py))};
  };
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    for (size_t i = 0; i < s.x.size(); ++i) {
      auto [x, y] = to_px(s.x[i], s.y[i]);
      EXPECT_EQ(pixel(im, x, y), series_color(k)) << s.name << " point " << i << " at (" << x << ", " << y << ")";
    }
  }
  // Far from both curves, inside the plot: background or grid, never a series colour.
  auto [x, y] = to_px(11, 2.0);
  Rgb p = pixel(im, x, y);
  EXPECT_TRUE(p.r == p.g && p.g == p.b) << int(p.r) << "," << int(p.g) << "," << int(p.b);
  // The legend's swatches carry the series colours, right of the plot.
  for (size_t k = 0; k < 2; ++k) {
    int ly = layout.top + 10 + static_cast<int>(k) * 24, lx = layout.right + 16 + 14;
    EXPECT_EQ(pixel(im, lx, ly), series_color(k)) << "legend entry " << k;
  }
}

TEST(Plot, LongSeriesAndGapsDrawLinesWithoutMarkers) {
  LineChart chart;
  chart.title = "per-step loss";
  Series s{"loss", {}, {}};
  for (int i = 0; i < 2000; ++i) {
    s.x.push_back(i);
    s.y.push_back(i >= 1000 && i < 1010 ? NAN : 1.0);  // flat, with a gap
  }
  chart.series = {s};
  ChartLayout layout;
  Image im = render_line_chart(chart, &layout);
  // A flat line at y = 1: every column of the plot has the colour on the line's row.
  double py = layout.bottom + 0.5 - (1.0 - layout.y_min) / (layout.y_max - layout.y_min) * (layout.bottom - layout.top);
  int row = static_cast<int>(std::floor(py)), hits = 0;
  for (int x = layout.left + 2; x < layout.right - 1; ++x) hits += pixel(im, x, row) == series_color(0);
  EXPECT_GT(hits, (layout.right - layout.left) * 9 / 10);
  EXPECT_LT(hits, layout.right - layout.left - 2);  // the NaN gap is left open
}

TEST(Plot, ConfusionMatrixCellsHaveTheScaleColour) {
  EMBER_REQUIRE_PYTHON_MODULE(system_python(), "PIL");
  const std::vector<int64_t> counts = {50, 3, 2, 0,  //
                                       10, 40, 0, 0,  //
                                       1, 1, 97, 1,   //
                                       0, 0, 0, 0};   // a class with no samples
  ConfusionChart chart{"Confusion matrix", from_vector(counts, {4, 4}), {"cat", "dog", "airplane", "ship"}};
  ChartLayout layout;
  Image im = render_confusion_matrix(chart, &layout);
  fs::path png = test_folder("plot_confusion") / "confusion.png";
  write_confusion_matrix(png.string(), chart);
  expect_png_equals(png, im);
  EXPECT_EQ(layout.right - layout.left, 4 * layout.cell);
  EXPECT_GE(layout.cell, 24);  // room for the counts
  for (int r = 0; r < 4; ++r) {
    int64_t total = 0;
    for (int c = 0; c < 4; ++c) total += counts[static_cast<size_t>(r * 4 + c)];
    for (int c = 0; c < 4; ++c) {
      double share = total ? static_cast<double>(counts[static_cast<size_t>(r * 4 + c)]) / total : 0.0;
      // A cell's corner, away from its centred count.
      int x = layout.left + c * layout.cell + 2, y = layout.top + r * layout.cell + 2;
      EXPECT_EQ(pixel(im, x, y), heat_color(share)) << "cell (" << r << ", " << c << ")";
    }
  }
  // The counts are drawn: the centre of a dark cell has light (text) pixels near it.
  int cx = layout.left + 2 * layout.cell + layout.cell / 2, cy = layout.top + 2 * layout.cell + layout.cell / 2;
  int light = 0;
  for (int y = cy - 6; y <= cy + 6; ++y)
    for (int x = cx - 10; x <= cx + 10; ++x) light += pixel(im, x, y).r > 200;
  EXPECT_GT(light, 5);
}

TEST(Plot, ConfusionMatrixScalesToManyClasses) {
  for (int64_t classes : {2, 20, 60, 1000}) {
    SCOPED_TRACE(std::to_string(classes) + " classes");
    std::vector<int64_t> counts(static_cast<size_t>(classes * classes), 1);
    for (int64_t i = 0; i < classes; ++i) counts[static_cast<size_t>(i * classes + i)] = 30;
    std::vector<std::string> names;
    for (int64_t i = 0; i < classes; ++i) names.push_back("class " + std::to_string(i));
    ChartLayout layout;
    Image im = render_confusion_matrix({"", from_vector(counts, {classes, classes}), names}, &layout);
    EXPECT_GE(layout.cell, 1);
    EXPECT_LE(im.width, 1600);
    EXPECT_LE(im.height, 1600);
    int last = static_cast<int>(classes) - 1;  // the last diagonal cell is the darkest colour
    Rgb dark = pixel(im, layout.left + last * layout.cell, layout.top + last * layout.cell);
    Rgb light = pixel(im, layout.left + last * layout.cell, layout.top);
    EXPECT_LT(dark.r + dark.g + dark.b, light.r + light.g + light.b);
  }
}

TEST(Plot, ClearErrors) {
  LineChart bad;
  bad.series = {{"s", {1, 2, 3}, {1, 2}}};
  expect_error([&] { render_line_chart(bad); }, {"plot", "series 's' has 3 x and 2 y values"});
  expect_error([] { render_confusion_matrix({"", zeros({2, 3}, DType::Int64), {}}); },
               {"plot", "square", "[2, 3]"});
  fs::path base = test_folder("plot_errors");
  fs::create_directories(base);
  std::ofstream(base / "file") << "x";
  expect_error([&] { write_line_chart((base / "file" / "x.png").string(), loss_chart()); },
               {"plot", "cannot create the folder", (base / "file").string()});
}

TEST(Plot, WriteSamples) {
  const char* dir = std::getenv("EMBER_PLOT_SAMPLES");
  if (!dir) GTEST_SKIP() << "set EMBER_PLOT_SAMPLES=DIR to write sample charts";
  fs::path d(dir);
  write_line_chart((d / "loss.png").string(), loss_chart());
  LineChart acc{"Accuracy", "epoch", "accuracy", {}};
  Series tr{"train", {}, {}}, va{"val", {}, {}}, te{"test (top-5)", {}, {}};
  for (int e = 1; e <= 30; ++e) {
    tr.x.push_back(e), tr.y.push_back(0.98 - 0.5 * std::exp(-0.2 * e));
    va.x.push_back(e), va.y.push_back(0.91 - 0.45 * std::exp(-0.25 * e) + 0.01 * std::sin(e));
    te.x.push_back(e), te.y.push_back(0.995 - 0.2 * std::exp(-0.3 * e));
  }
  acc.series = {tr, va, te};
  write_line_chart((d / "accuracy.png").string(), acc);
  LineChart steps{"Training loss per step", "step", "loss", {}};
  Series ls{"Loss/train", {}, {}};
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 0.08);
  for (int i = 0; i < 3000; ++i) ls.x.push_back(i), ls.y.push_back(2.3 * std::exp(-i / 600.0) + 0.2 + noise(rng));
  steps.series = {ls};
  write_line_chart((d / "loss_steps.png").string(), steps);
  const std::vector<std::string> fashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  std::vector<int64_t> counts(100);
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 10; ++c) counts[static_cast<size_t>(r * 10 + c)] = r == c ? 850 + 13 * r : (r * 7 + c * 3) % 23;
  write_confusion_matrix((d / "confusion10.png").string(), {"Confusion matrix (test)", from_vector(counts, {10, 10}), fashion});
  std::vector<int64_t> big(100 * 100);
  for (int r = 0; r < 100; ++r)
    for (int c = 0; c < 100; ++c) big[static_cast<size_t>(r * 100 + c)] = r == c ? 40 + r % 20 : (r * c) % 7 == 0;
  write_confusion_matrix((d / "confusion100.png").string(), {"Confusion matrix, 100 classes", from_vector(big, {100, 100}), {}});
  write_confusion_matrix((d / "confusion2.png").string(),
                         {"Cats vs dogs", from_vector(std::vector<int64_t>{480, 20, 35, 465}, {2, 2}), {"cat", "dog"}});
}

}  // namespace
}  // namespace ember::test
