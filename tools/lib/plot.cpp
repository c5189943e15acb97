#include "tools/lib/plot.h"

#include <stb_truetype.h>  // compiled in Debian's libstb, linked by ember_lib

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "data/encode.h"
#include "engine/error.h"

namespace ember {
namespace {

const Rgb kWhite{255, 255, 255}, kText{34, 34, 34}, kAxis{90, 90, 90}, kGrid{228, 228, 228};

// --- Text: DejaVu Sans through stb_truetype ---

struct Font {
  std::vector<unsigned char> bytes;
  stbtt_fontinfo info{};
};

const Font& plot_font() {
  // A throwing initialiser leaves the static unset, so a later call retries.
  static const Font* font = [] {
    std::ifstream in(kPlotFont, std::ios::binary);
    EMBER_CHECK(in, "plot", "cannot read the font ", kPlotFont, " (install Debian's fonts-dejavu-core)");
    auto* f = new Font;
    f->bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    int offset = stbtt_GetFontOffsetForIndex(f->bytes.data(), 0);
    if (offset < 0 || !stbtt_InitFont(&f->info, f->bytes.data(), offset)) {
      delete f;
      fail("plot", "cannot parse the font ", kPlotFont);
    }
    return f;
  }();
  return *font;
}

// UTF-8 to code points; a malformed byte becomes '?'.
std::vector<int> code_points(const std::string& s) {
  std::vector<int> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    int cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
    bool ok = n >= 0 && i + n < s.size() + (n == 0 ? 1 : 0);
    for (int k = 1; ok && k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      ok = (d >> 6) == 2;
      cp = (cp << 6) | (d & 0x3f);
    }
    out.push_back(ok ? cp : '?');
    i += ok ? n + 1 : 1;
  }
  return out;
}

// A string's coverage (0..1), one byte per pixel, `px` pixels tall.
struct TextMask {
  int w = 0, h = 0;
  std::vector<uint8_t> a;
};

TextMask render_text(const std::string& s, float px) {
  const stbtt_fontinfo& info = plot_font().info;
  const float scale = stbtt_ScaleForPixelHeight(&info, px);
  int ascent = 0, descent = 0, gap = 0;
  stbtt_GetFontVMetrics(&info, &ascent, &descent, &gap);
  const std::vector<int> cps = code_points(s);
  std::vector<float> pen(cps.size() + 1, 0.f);  // x of each glyph's origin
  for (size_t i = 0; i < cps.size(); ++i) {
    int advance = 0, lsb = 0;
    stbtt_GetCodepointHMetrics(&info, cps[i], &advance, &lsb);
    int kern = i + 1 < cps.size() ? stbtt_GetCodepointKernAdvance(&info, cps[i], cps[i + 1]) : 0;
    pen[i + 1] = pen[i] + scale * static_cast<float>(advance + kern);
  }
  TextMask m;
  m.w = static_cast<int>(std::ceil(pen.back())) + 2;
  m.h = static_cast<int>(std::ceil(scale * static_cast<float>(ascent - descent))) + 1;
  m.a.assign(static_cast<size_t>(m.w) * m.h, 0);
  const int baseline = static_cast<int>(std::lround(scale * static_cast<float>(ascent)));
  std::vector<uint8_t> glyph;
  for (size_t i = 0; i < cps.size(); ++i) {
    float x = pen[i], shift = x - std::floor(x);
    int x0, y0, x1, y1;
    stbtt_GetCodepointBitmapBoxSubpixel(&info, cps[i], scale, scale, shift, 0, &x0, &y0, &x1, &y1);
    int gw = x1 - x0, gh = y1 - y0;
    if (gw <= 0 || gh <= 0) continue;
    glyph.assign(static_cast<size_t>(gw) * gh, 0);
    stbtt_MakeCodepointBitmapSubpixel(&info, glyph.data(), gw, gh, gw, scale, scale, shift, 0, cps[i]);
    for (int gy = 0; gy < gh; ++gy) {
      for (int gx = 0; gx < gw; ++gx) {
        int tx = static_cast<int>(std::floor(x)) + x0 + gx, ty = baseline + y0 + gy;
        if (tx < 0 || ty < 0 || tx >= m.w || ty >= m.h) continue;
        uint8_t& dst = m.a[static_cast<size_t>(ty) * m.w + tx];
        dst = std::max(dst, glyph[static_cast<size_t>(gy) * gw + gx]);
      }
    }
  }
  return m;
}

int text_width(const std::string& s, float px) { return s.empty() ? 0 : render_text(s, px).w; }

// --- The canvas: an RGB image with blending, rectangles, strokes, text ---

class Canvas {
 public:
  Canvas(int w, int h) : img_(h, w, 3) { std::fill(img_.pixels.begin(), img_.pixels.end(), 255); }
  int width() const { return img_.width; }
  int height() const { return img_.height; }
  Image take() { return std::move(img_); }

  void blend(int x, int y, Rgb c, float a) {
    if (x < 0 || y < 0 || x >= img_.width || y >= img_.height || a <= 0) return;
    a = std::min(a, 1.f);
    uint8_t* p = &img_.at(y, x, 0);
    const uint8_t src[3] = {c.r, c.g, c.b};
    for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(std::lround(p[k] + (src[k] - p[k]) * a));
  }
  // Pixels [x0, x1) x [y0, y1).
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = std::max(y0, 0); y < std::min(y1, img_.height); ++y)
      for (int x = std::max(x0, 0); x < std::min(x1, img_.width); ++x) blend(x, y, c, 1.f);
  }
  // Text whose box is anchored at (x, y): ax, ay = 0 (left/top), 0.5 (centre)
  // or 1 (right/bottom) of the box. Vertical text reads bottom to top.
  void text(const std::string& s, float px, double x, double y, Rgb c, double ax, double ay, bool vertical = false) {
    if (s.empty()) return;
    TextMask m = render_text(s, px);
    int bw = vertical ? m.h : m.w, bh = vertical ? m.w : m.h;
    int x0 = static_cast<int>(std::lround(x - ax * bw)), y0 = static_cast<int>(std::lround(y - ay * bh));
    for (int v = 0; v < m.h; ++v) {
      for (int u = 0; u < m.w; ++u) {
        float a = m.a[static_cast<size_t>(v) * m.w + u] / 255.f;
        if (vertical)
          blend(x0 + v, y0 + (m.w - 1 - u), c, a);
        else
          blend(x0 + u, y0 + v, c, a);
      }
    }
  }

 private:
  Image img_;
};

// Anti-aliased strokes: each pixel's coverage is how far its centre lies
// inside the stroke (half a pixel of ramp), kept as the maximum over the
// polyline's segments and markers so that joints are not blended twice.
class StrokeMask {
 public:
  StrokeMask(int x0, int y0, int x1, int y1) : x0_(x0), y0_(y0), w_(x1 - x0 + 1), h_(y1 - y0 + 1) {
    a_.assign(static_cast<size_t>(w_) * h_, 0.f);
  }
  void segment(double ax, double ay, double bx, double by, double width) {
    double r = width / 2, dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    cover(std::min(ax, bx) - r, std::min(ay, by) - r, std::max(ax, bx) + r, std::max(ay, by) + r,
          [&](double px, double py) {
            double t = len2 > 0 ? std::clamp(((px - ax) * dx + (py - ay) * dy) / len2, 0.0, 1.0) : 0.0;
            return r + 0.5 - std::hypot(px - (ax + t * dx), py - (ay + t * dy));
          });
  }
  void disc(double cx, double cy, double r) {
    cover(cx - r, cy - r, cx + r, cy + r, [&](double px, double py) { return r + 0.5 - std::hypot(px - cx, py - cy); });
  }
  void paint(Canvas& canvas, Rgb c) const {
    for (int y = 0; y < h_; ++y)
      for (int x = 0; x < w_; ++x) canvas.blend(x0_ + x, y0_ + y, c, a_[static_cast<size_t>(y) * w_ + x]);
  }

 private:
  template <class Coverage>
  void cover(double bx0, double by0, double bx1, double by1, Coverage coverage) {
    int xa = std::max(x0_, static_cast<int>(std::floor(bx0)) - 1), xb = std::min(x0_ + w_ - 1, static_cast<int>(bx1) + 1);
    int ya = std::max(y0_, static_cast<int>(std::floor(by0)) - 1), yb = std::min(y0_ + h_ - 1, static_cast<int>(by1) + 1);
    for (int y = ya; y <= yb; ++y) {
      for (int x = xa; x <= xb; ++x) {
        float c = static_cast<float>(std::clamp(coverage(x + 0.5, y + 0.5), 0.0, 1.0));
        float& dst = a_[static_cast<size_t>(y - y0_) * w_ + (x - x0_)];
        dst = std::max(dst, c);
      }
    }
  }
  int x0_, y0_, w_, h_;
  std::vector<float> a_;
};

// --- Axes ---

// Tick labels with as many decimals as the step needs (0.05 -> 2, 0.25 -> 2).
std::vector<std::string> tick_labels(const std::vector<double>& ticks, bool percent = false) {
  double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1, largest = 0;
  for (double t : ticks) largest = std::max(largest, std::abs(t));
  if (percent) step *= 100;
  int decimals = 0;
  for (double scaled = step; decimals < 12 && std::abs(scaled - std::round(scaled)) > 1e-6 * scaled; scaled *= 10)
    ++decimals;
  std::vector<std::string> out;
  char buf[64];
  for (double t : ticks) {
    if (percent)
      std::snprintf(buf, sizeof(buf), "%.*f%%", decimals, t * 100);
    else if (largest >= 1e6 || step < 1e-4)
      std::snprintf(buf, sizeof(buf), "%g", t);
    else
      std::snprintf(buf, sizeof(buf), "%.*f", decimals, t);
    out.emplace_back(buf);
  }
  return out;
}

void ensure_parent_folder(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec || !std::filesystem::is_directory(parent))
    fail("plot", "cannot create the folder ", parent.string(), " for ", path, ": ",
         ec ? ec.message() : "a file of that name is in the way");
}

constexpr float kTitlePx = 18, kLabelPx = 14, kTickPx = 12;

}  // namespace

Rgb series_color(size_t i) {
  static const Rgb tab10[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                              {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return tab10[i % 10];
}

Rgb heat_color(double t) {
  static const Rgb blues[] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214},
                              {66, 146, 198},  {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
  t = std::isnan(t) ? 0 : std::clamp(t, 0.0, 1.0) * 8;
  int i = std::min(static_cast<int>(t), 7);
  double f = t - i;
  auto mix = [&](uint8_t a, uint8_t b) { return static_cast<uint8_t>(std::lround(a + (b - a) * f)); };
  return {mix(blues[i].r, blues[i + 1].r), mix(blues[i].g, blues[i + 1].g), mix(blues[i].b, blues[i + 1].b)};
}

std::vector<double> nice_ticks(double lo, double hi, int target, bool integer_step) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
    if (integer_step) d = std::max(d, 1.0);
    lo -= d, hi += d;
  }
  // As matplotlib's MaxNLocator: the smallest step of 1, 2, 2.5 or 5 times a
  // power of ten that puts at most `target` ticks in the range.
  auto count = [&](double step) { return std::floor(hi / step + 1e-9) - std::ceil(lo / step - 1e-9) + 1; };
  double decade = std::pow(10.0, std::floor(std::log10((hi - lo) / std::max(target - 1, 1))) - 1), step = 0, m = 0;
  for (int tries = 0; step == 0; ++tries) {
    for (double c : {1.0, 2.0, 2.5, 5.0}) {
      double s = c * decade;
      bool whole = std::abs(s - std::round(s)) < 1e-9 && s >= 1;
      if ((integer_step && !whole) || (count(s) > target && tries < 4)) continue;
      step = s, m = c;
      break;
    }
    if (step == 0) decade *= 10;
  }
  // k * m / 10^n rounds once, so 3 * 0.2 gives the double nearest 0.6.
  const double per_unit = decade < 1 ? std::round(1 / decade) : 0;
  std::vector<double> ticks;
  for (double k = std::ceil(lo / step - 1e-9); k <= std::floor(hi / step + 1e-9); ++k) {
    double v = per_unit > 0 ? k * m / per_unit : k * m * decade;
    ticks.push_back(v == 0 ? 0.0 : v);  // no -0
  }
  return ticks;
}

Image render_line_chart(const LineChart& chart, ChartLayout* layout) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  bool whole_x = true, any_point = false;
  for (const Series& s : chart.series) {
    EMBER_CHECK(s.x.size() == s.y.size(), "plot", "series '", s.name, "' has ", s.x.size(), " x and ", s.y.size(),
                " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      any_point = true;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      whole_x = whole_x && s.x[i] == std::floor(s.x[i]);
    }
  }
  if (!any_point) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  // The view: the data plus a small margin (markers are not cut by the frame); ticks inside it.
  auto widen = [](double& lo, double& hi, double margin) {
    double pad = hi > lo ? (hi - lo) * margin : std::max(std::abs(lo) * 0.1, 1.0);
    lo -= pad, hi += pad;
  };
  widen(x_lo, x_hi, 0.03);
  widen(y_lo, y_hi, 0.05);
  const std::vector<double> xt = nice_ticks(x_lo, x_hi, 8, whole_x), yt = nice_ticks(y_lo, y_hi, 7);
  const std::vector<std::string> xl = tick_labels(xt), yl = tick_labels(yt);

  // Margins from the text they hold; the legend sits right of the plot.
  int ytick_w = 0, legend_w = 0;
  for (const std::string& s : yl) ytick_w = std::max(ytick_w, text_width(s, kTickPx));
  for (const Series& s : chart.series) legend_w = std::max(legend_w, text_width(s.name, kLabelPx));
  if (legend_w > 0) legend_w += 16 + 28 + 6;
  const int W = std::max(chart.width, 200), H = std::max(chart.height, 150);
  const int left = 14 + (chart.y_label.empty() ? 0 : 26) + ytick_w + 8;
  const int top = chart.title.empty() ? 14 : 44;
  const int right = W - 16 - legend_w;
  const int bottom = H - (12 + (chart.x_label.empty() ? 0 : 24) + 22);
  EMBER_CHECK(right - left > 40 && bottom - top > 40, "plot", "a ", W, "x", H,
              " line chart leaves no room to plot (widen it or shorten the series names)");
  const double x0 = x_lo, x1 = x_hi, y0 = y_lo, y1 = y_hi;
  auto px = [&](double x) { return left + 0.5 + (x - x0) / (x1 - x0) * (right - left); };
  auto py = [&](double y) { return bottom + 0.5 - (y - y0) / (y1 - y0) * (bottom - top); };

  Canvas canvas(W, H);
  for (size_t i = 0; i < xt.size(); ++i) {
    int x = static_cast<int>(std::floor(px(xt[i])));
    canvas.fill(x, top, x + 1, bottom, kGrid);
    canvas.fill(x, bottom, x + 1, bottom + 5, kAxis);
    canvas.text(xl[i], kTickPx, x + 0.5, bottom + 7, kText, 0.5, 0);
  }
  for (size_t i = 0; i < yt.size(); ++i) {
    int y = static_cast<int>(std::floor(py(yt[i])));
    canvas.fill(left, y, right, y + 1, kGrid);
    canvas.fill(left - 5, y, left, y + 1, kAxis);
    canvas.text(yl[i], kTickPx, left - 8, y + 0.5, kText, 1, 0.5);
  }
  canvas.fill(left, top, right + 1, top + 1, kAxis);
  canvas.fill(left, bottom, right + 1, bottom + 1, kAxis);
  canvas.fill(left, top, left + 1, bottom + 1, kAxis);
  canvas.fill(right, top, right + 1, bottom + 1, kAxis);

  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    StrokeMask mask(left, top, right, bottom);
    // Dots on short curves (per epoch); long ones (per step) get a thinner line.
    const bool markers = s.x.size() <= 40;
    const double line_width = s.x.size() <= 200 ? 2.2 : 1.4;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (i > 0 && std::isfinite(s.x[i - 1]) && std::isfinite(s.y[i - 1]))
        mask.segment(px(s.x[i - 1]), py(s.y[i - 1]), px(s.x[i]), py(s.y[i]), line_width);
      if (markers) mask.disc(px(s.x[i]), py(s.y[i]), 3.2);
    }
    mask.paint(canvas, series_color(k));
    if (legend_w > 0) {  // legend entry: a short stroke and the name
      int ly = top + 10 + static_cast<int>(k) * 24, lx = right + 16;
      StrokeMask swatch(lx, ly - 6, lx + 28, ly + 6);
      swatch.segment(lx + 2, ly + 0.5, lx + 26, ly + 0.5, 2.2);
      if (markers) swatch.disc(lx + 14, ly + 0.5, 3.2);
      swatch.paint(canvas, series_color(k));
      canvas.text(s.name, kLabelPx, lx + 34, ly + 0.5, kText, 0, 0.5);
    }
  }
  canvas.text(chart.title, kTitlePx, (left + right) / 2.0, 12, kText, 0.5, 0);
  canvas.text(chart.x_label, kLabelPx, (left + right) / 2.0, H - 10, kText, 0.5, 1);
  canvas.text(chart.y_label, kLabelPx, 12, (top + bottom) / 2.0, kText, 0, 0.5, true);
  if (layout) *layout = ChartLayout{left, top, right, bottom, x0, x1, y0, y1, 0};
  return canvas.take();
}

Image render_confusion_matrix(const ConfusionChart& chart, ChartLayout* layout) {
  const Tensor& t = chart.counts;
  EMBER_CHECK(t.defined() && t.dim() == 2 && t.size(0) == t.size(1) && t.size(0) > 0, "plot",
              "a confusion matrix must be square [C, C], got ", t.defined() ? t.shape() : Shape{});
  const int64_t C = t.size(0);
  EMBER_CHECK(chart.class_names.empty() || static_cast<int64_t>(chart.class_names.size()) == C, "plot",
              chart.class_names.size(), " class names for a ", C, "-class confusion matrix");
  const std::vector<int64_t> counts = t.to_vector<int64_t>();
  std::vector<std::string> names(static_cast<size_t>(C));
  for (int64_t i = 0; i < C; ++i)
    names[static_cast<size_t>(i)] = chart.class_names.empty() ? std::to_string(i) : chart.class_names[static_cast<size_t>(i)];

  // Colour: share of the row (recall per true class) or of the largest count.
  int64_t largest = 0;
  for (int64_t v : counts) largest = std::max(largest, v);
  std::vector<double> shade(counts.size(), 0.0);
  for (int64_t r = 0; r < C; ++r) {
    int64_t row_total = 0;
    for (int64_t c = 0; c < C; ++c) row_total += counts[static_cast<size_t>(r * C + c)];
    for (int64_t c = 0; c < C; ++c) {
      double denom = static_cast<double>(chart.normalize_rows ? row_total : largest);
      shade[static_cast<size_t>(r * C + c)] = denom > 0 ? counts[static_cast<size_t>(r * C + c)] / denom : 0.0;
    }
  }

  // Cells shrink with the class count; text only where it fits.
  const int cell = static_cast<int>(std::clamp<int64_t>(640 / C, 1, 64)), n = cell * static_cast<int>(C);
  float count_px = std::min(14.f, cell * 0.34f);
  int widest_count = 0;
  if (C <= 25 && count_px >= 7.5f) {
    for (int64_t v : counts) widest_count = std::max(widest_count, text_width(std::to_string(v), count_px));
    while (widest_count > cell - 4 && count_px > 7.5f) {
      count_px -= 0.5f;
      widest_count = 0;
      for (int64_t v : counts) widest_count = std::max(widest_count, text_width(std::to_string(v), count_px));
    }
  }
  const bool show_counts = C <= 25 && count_px >= 7.5f && widest_count <= cell - 4;
  const float name_px = std::clamp(cell * 0.7f, 9.f, 13.f);
  const int stride = std::max(1, static_cast<int>(std::ceil((name_px + 3) / cell)));  // every n-th name past ~50 classes
  int name_w = 0;
  for (int64_t i = 0; i < C; i += stride) name_w = std::max(name_w, text_width(names[static_cast<size_t>(i)], name_px));
  const bool vertical_columns = name_w > cell * stride - 4;

  const std::vector<double> scale_ticks = nice_ticks(0, chart.normalize_rows ? 1.0 : std::max<double>(largest, 1), 6);
  const std::vector<std::string> scale_labels = tick_labels(scale_ticks, chart.normalize_rows);
  int scale_w = 0;
  for (const std::string& s : scale_labels) scale_w = std::max(scale_w, text_width(s, kTickPx));

  const int left = 14 + 26 + name_w + 8, top = chart.title.empty() ? 16 : 46;
  const int column_names_h = vertical_columns ? name_w : static_cast<int>(name_px) + 4;
  const int bar_x = left + n + 22, bar_w = 16;
  const int W = std::max(bar_x + bar_w + 6 + scale_w + 8 + 20 + 12, text_width(chart.title, kTitlePx) + 24);
  const int H = top + n + 8 + column_names_h + 10 + 24;
  Canvas canvas(W, H);

  for (int64_t r = 0; r < C; ++r) {
    for (int64_t c = 0; c < C; ++c) {
      const size_t i = static_cast<size_t>(r * C + c);
      const Rgb colour = heat_color(shade[i]);
      const int x = left + static_cast<int>(c) * cell, y = top + static_cast<int>(r) * cell;
      canvas.fill(x, y, x + cell, y + cell, colour);
      if (show_counts) {
        double luminance = 0.299 * colour.r + 0.587 * colour.g + 0.114 * colour.b;
        canvas.text(std::to_string(counts[i]), count_px, x + cell / 2.0, y + cell / 2.0,
                    luminance < 140 ? kWhite : kText, 0.5, 0.5);
      }
    }
  }
  for (int64_t i = 0; i < C; i += stride) {
    const double mid = static_cast<int>(i) * cell + cell / 2.0;
    canvas.text(names[static_cast<size_t>(i)], name_px, left - 6, top + mid, kText, 1, 0.5);
    if (vertical_columns)
      canvas.text(names[static_cast<size_t>(i)], name_px, left + mid, top + n + 6, kText, 0.5, 0, true);
    else
      canvas.text(names[static_cast<size_t>(i)], name_px, left + mid, top + n + 6, kText, 0.5, 0);
  }
  // A thin frame, and the colour scale with its ticks.
  canvas.fill(left - 1, top - 1, left + n + 1, top, kAxis);
  canvas.fill(left - 1, top + n, left + n + 1, top + n + 1, kAxis);
  canvas.fill(left - 1, top - 1, left, top + n + 1, kAxis);
  canvas.fill(left + n, top - 1, left + n + 1, top + n + 1, kAxis);
  for (int y = 0; y < n; ++y) canvas.fill(bar_x, top + y, bar_x + bar_w, top + y + 1, heat_color(1.0 - (y + 0.5) / n));
  const double scale_top = chart.normalize_rows ? 1.0 : std::max<double>(largest, 1);
  for (size_t i = 0; i < scale_ticks.size(); ++i) {
    double y = top + n - scale_ticks[i] / scale_top * n;
    canvas.fill(bar_x + bar_w, static_cast<int>(y), bar_x + bar_w + 4, static_cast<int>(y) + 1, kAxis);
    canvas.text(scale_labels[i], kTickPx, bar_x + bar_w + 7, y, kText, 0, 0.5);
  }
  canvas.text(chart.normalize_rows ? "share of true class" : "count", kLabelPx - 2, W - 10, top + n / 2.0, kText, 1, 0.5,
              true);
  canvas.text(chart.title, kTitlePx, W / 2.0, 14, kText, 0.5, 0);
  canvas.text("Predicted class", kLabelPx, left + n / 2.0, H - 10, kText, 0.5, 1);
  canvas.text("True class", kLabelPx, 12, top + n / 2.0, kText, 0, 0.5, true);
  if (layout) *layout = ChartLayout{left, top, left + n, top + n, 0, 1, 0, 1, cell};
  return canvas.take();
}

void write_line_chart(const std::string& path, const LineChart& chart) {
  Image image = render_line_chart(chart);
  ensure_parent_folder(path);
  write_png(path, image);
}

void write_confusion_matrix(const std::string& path, const ConfusionChart& chart) {
  Image image = render_confusion_matrix(chart);
  ensure_parent_folder(path);
  write_png(path, image);
}

}  // namespace ember
