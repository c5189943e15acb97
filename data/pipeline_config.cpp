#include "data/pipeline_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "data/augment/ops.h"
#include "engine/error.h"

namespace ember {
namespace {

using json = nlohmann::json;

// Reads an op's parameters, remembering which were used so that the rest
// can be reported as unknown.
class OpArgs {
 public:
  OpArgs(const json& j, std::string op, std::string source) : j_(j), op_(std::move(op)), source_(std::move(source)) {
    used_.insert("op");
  }
  [[noreturn]] void error(const std::string& param, const std::string& msg) const {
    fail("augment config", source_, ": op ", op_, ", parameter \"", param, "\": ", msg);
  }
  bool has(const std::string& k) const { return j_.contains(k) && !j_[k].is_null(); }
  const json& get(const std::string& k) {
    used_.insert(k);
    return j_[k];
  }
  double number(const std::string& k, double def) {
    used_.insert(k);
    if (!has(k)) return def;
    if (!j_[k].is_number()) error(k, "expected a number, got " + j_[k].dump());
    return j_[k].get<double>();
  }
  int integer(const std::string& k, int def) {
    double v = number(k, def);
    if (v != std::floor(v)) error(k, "expected an integer, got " + j_[k].dump());
    return static_cast<int>(v);
  }
  int required_int(const std::string& k) {
    if (!has(k)) error(k, "is required");
    return integer(k, 0);
  }
  bool boolean(const std::string& k, bool def) {
    used_.insert(k);
    if (!has(k)) return def;
    if (!j_[k].is_boolean()) error(k, "expected true or false, got " + j_[k].dump());
    return j_[k].get<bool>();
  }
  // One number x -> fn(x); [a, b] -> (a, b).
  Range range(const std::string& k, Range def, const std::function<Range(double)>& from_scalar) {
    used_.insert(k);
    if (!has(k)) return def;
    const json& v = j_[k];
    if (v.is_number()) return from_scalar(v.get<double>());
    if (v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number()) {
      Range r{v[0].get<double>(), v[1].get<double>()};
      if (r.first > r.second) error(k, "low is greater than high in " + v.dump());
      return r;
    }
    error(k, "expected a number or [low, high], got " + v.dump());
  }
  std::vector<float> floats(const std::string& k, std::vector<float> def) {
    used_.insert(k);
    if (!has(k)) return def;
    const json& v = j_[k];
    if (v.is_number()) return {v.get<float>()};
    if (!v.is_array()) error(k, "expected a list of numbers, got " + v.dump());
    std::vector<float> out;
    for (const json& x : v) {
      if (!x.is_number()) error(k, "expected a list of numbers, got " + v.dump());
      out.push_back(x.get<float>());
    }
    return out;
  }
  Fill fill(const std::string& k) {
    std::vector<float> v = floats(k, {0});
    Fill f{};
    for (size_t i = 0; i < 4; ++i) {
      float x = v[std::min(i, v.size() - 1)];
      if (x < 0 || x > 255) error(k, "fill values must be in [0, 255]");
      f[i] = static_cast<uint8_t>(std::lrint(x));
    }
    return f;
  }
  Interpolation interpolation(const std::string& k, Interpolation def) {
    used_.insert(k);
    if (!has(k)) return def;
    try {
      return interpolation_from_name(j_[k].is_string() ? j_[k].get<std::string>() : j_[k].dump());
    } catch (const Error& e) {
      error(k, e.what());
    }
  }
  BorderMode border(const std::string& k, BorderMode def) {
    used_.insert(k);
    if (!has(k)) return def;
    try {
      return border_mode_from_name(j_[k].is_string() ? j_[k].get<std::string>() : j_[k].dump());
    } catch (const Error& e) {
      error(k, e.what());
    }
  }
  double p(double def) {
    double v = number("p", def);
    if (v < 0 || v > 1) error("p", "must be in [0, 1]");
    return v;
  }
  // After construction: any key not read is unknown.
  void finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!used_.count(it.key())) error(it.key(), "unknown parameter");
  }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string op_, source_;
  std::set<std::string> used_;
};

Range symmetric(double x) { return {-std::abs(x), std::abs(x)}; }
Range around_one(double x) { return {std::max(0.0, 1 - x), 1 + x}; }
Range from_zero(double x) { return {0, x}; }

WarpStyle warp_style(OpArgs& a, BorderMode def_border, const char* border_key = "border_mode",
                     const char* value_key = "value") {
  WarpStyle s;
  s.interp = a.interpolation("interpolation", Interpolation::Linear);
  s.border = a.border(border_key, def_border);
  s.value = a.fill(value_key);
  return s;
}

std::pair<int, int> int_range(OpArgs& a, const std::string& k, std::pair<int, int> def, int low) {
  Range r = a.range(k, {def.first, def.second}, [&](double x) { return Range{low, x}; });
  return {static_cast<int>(r.first), static_cast<int>(r.second)};
}

std::vector<TransformPtr> children(OpArgs& a, const std::string& source) {
  const json& ops = a.get("ops");
  if (!ops.is_array() || ops.empty()) a.error("ops", "expected a non-empty list of ops");
  std::vector<TransformPtr> out;
  for (const json& op : ops) out.push_back(parse_op(op, source));
  return out;
}

// Keras' ImageDataGenerator vocabulary as a Compose of Ember ops.
TransformPtr keras_generator(OpArgs& a) {
  Affine::Ranges r;
  double rot = a.number("rotation_range", 0), ws = a.number("width_shift_range", 0),
         hs = a.number("height_shift_range", 0), shear = a.number("shear_range", 0);
  Range zoom = a.range("zoom_range", {1, 1}, [](double z) { return Range{1 - z, 1 + z}; });
  r.rotate = symmetric(rot);
  r.translate_x = symmetric(ws);
  r.translate_y = symmetric(hs);
  r.translate_in_pixels = ws >= 1 || hs >= 1;
  r.shear_x = symmetric(shear);
  // Keras samples the input at zoom * output: Ember's scale is 1 / zoom.
  r.scale_x = r.scale_y = {1 / zoom.second, 1 / zoom.first};
  WarpStyle style;
  style.border = BorderMode::Replicate;  // Keras' fill_mode="nearest"
  if (a.has("fill_mode")) {
    std::string m = a.get("fill_mode").get<std::string>();
    style.border = m == "nearest" ? BorderMode::Replicate : m == "constant" ? BorderMode::Constant
                   : m == "reflect" ? BorderMode::Reflect : m == "wrap" ? BorderMode::Wrap
                   : (a.error("fill_mode", "expected nearest, constant, reflect or wrap"), BorderMode::Constant);
  }
  style.value = a.fill("cval");
  std::vector<TransformPtr> ops;
  if (rot || ws || hs || shear || zoom.first != 1 || zoom.second != 1)
    ops.push_back(std::make_shared<Affine>("ImageDataGenerator", r, style, 1.0));
  if (a.boolean("horizontal_flip", false)) ops.push_back(std::make_shared<HorizontalFlip>(0.5));
  if (a.boolean("vertical_flip", false)) ops.push_back(std::make_shared<VerticalFlip>(0.5));
  double rescale = a.number("rescale", 0);
  if (rescale != 0) ops.push_back(std::make_shared<Rescale>(static_cast<float>(rescale)));
  return std::make_shared<Compose>(ops, 1.0);
}

using Factory = std::function<TransformPtr(OpArgs&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> f = {
      {"Compose", [](OpArgs& a) { auto c = children(a, a.source()); return std::make_shared<Compose>(c, a.p(1)); }},
      {"OneOf", [](OpArgs& a) { auto c = children(a, a.source()); return std::make_shared<OneOf>(c, a.p(0.5)); }},
      {"SomeOf", [](OpArgs& a) {
         auto c = children(a, a.source());
         int n = a.required_int("n");
         bool rep = a.boolean("replace", false);
         return std::make_shared<SomeOf>(c, n, rep, a.p(1));
       }},
      {"Resize", [](OpArgs& a) {
         int h = a.required_int("height"), w = a.required_int("width");
         return std::make_shared<Resize>(h, w, a.interpolation("interpolation", Interpolation::Linear),
                                         a.boolean("antialias", true), a.p(1));
       }},
      {"SmallestMaxSize", [](OpArgs& a) {
         int s = a.required_int("max_size");
         return std::make_shared<SmallestMaxSize>(s, a.interpolation("interpolation", Interpolation::Linear),
                                                  a.boolean("antialias", true), a.p(1));
       }},
      {"RandomCrop", [](OpArgs& a) {
         int h = a.required_int("height"), w = a.required_int("width");
         return std::make_shared<RandomCrop>(h, w, a.p(1));
       }},
      {"CenterCrop", [](OpArgs& a) {
         int h = a.required_int("height"), w = a.required_int("width");
         return std::make_shared<CenterCrop>(h, w, a.p(1));
       }},
      {"RandomResizedCrop", [](OpArgs& a) {
         int h = a.required_int("height"), w = a.required_int("width");
         Range scale = a.range("scale", {0.08, 1.0}, from_zero);
         Range ratio = a.range("ratio", {0.75, 4.0 / 3.0}, [](double x) { return Range{x, x}; });
         Interpolation in = a.interpolation("interpolation", Interpolation::Linear);
         bool aa = a.boolean("antialias", true);
         return std::make_shared<RandomResizedCrop>(h, w, scale, ratio, in, aa, a.p(1));
       }},
      {"PadIfNeeded", [](OpArgs& a) {
         int h = a.required_int("min_height"), w = a.required_int("min_width");
         BorderMode m = a.border("border_mode", BorderMode::Reflect101);
         Fill v = a.fill("value");
         return std::make_shared<PadIfNeeded>(h, w, m, v, a.p(1));
       }},
      {"Pad", [](OpArgs& a) {
         std::vector<float> p = a.floats("padding", {});
         if (p.size() != 1 && p.size() != 2 && p.size() != 4) a.error("padding", "expected n, [lr, tb] or [l, t, r, b]");
         int l = static_cast<int>(p[0]), t = static_cast<int>(p.size() == 1 ? p[0] : p[1]);
         int r = static_cast<int>(p.size() == 4 ? p[2] : l), b = static_cast<int>(p.size() == 4 ? p[3] : t);
         BorderMode m = a.border("padding_mode", BorderMode::Constant);
         Fill v = a.fill("fill");
         return std::make_shared<Pad>(t, b, l, r, m, v, a.p(1));
       }},
      {"HorizontalFlip", [](OpArgs& a) { return std::make_shared<HorizontalFlip>(a.p(0.5)); }},
      {"VerticalFlip", [](OpArgs& a) { return std::make_shared<VerticalFlip>(a.p(0.5)); }},
      {"RandomRotate90", [](OpArgs& a) { return std::make_shared<RandomRotate90>(a.p(0.5)); }},
      {"Rotate", [](OpArgs& a) {
         Range lim = a.range("limit", {-90, 90}, symmetric);
         WarpStyle s = warp_style(a, BorderMode::Reflect101);
         return std::make_shared<Rotate>(lim, s, a.p(0.5));
       }},
      {"ShiftScaleRotate", [](OpArgs& a) {
         Affine::Ranges r;
         Range shift = a.range("shift_limit", {-0.0625, 0.0625}, symmetric);
         r.translate_x = a.range("shift_limit_x", shift, symmetric);
         r.translate_y = a.range("shift_limit_y", shift, symmetric);
         Range sl = a.range("scale_limit", {-0.1, 0.1}, symmetric);
         r.scale_x = r.scale_y = {1 + sl.first, 1 + sl.second};
         r.keep_ratio = true;
         r.rotate = a.range("rotate_limit", {-45, 45}, symmetric);
         WarpStyle s = warp_style(a, BorderMode::Reflect101);
         return std::make_shared<Affine>("ShiftScaleRotate", r, s, a.p(0.5));
       }},
      {"Affine", [](OpArgs& a) {
         Affine::Ranges r;
         auto xy = [&](const std::string& k, Range def, Range& x, Range& y, auto from_scalar) {
           if (a.has(k) && a.get(k).is_object()) {
             json o = a.get(k);
             for (auto it = o.begin(); it != o.end(); ++it)
               if (it.key() != "x" && it.key() != "y") a.error(k, "expected keys x and y");
             OpArgs sub(o, "Affine." + k, a.source());
             x = sub.range("x", def, from_scalar);
             y = sub.range("y", def, from_scalar);
           } else {
             x = y = a.range(k, def, from_scalar);
           }
         };
         xy("scale", {1, 1}, r.scale_x, r.scale_y, [](double s) { return Range{s, s}; });
         if (a.has("translate_px")) {
           xy("translate_px", {0, 0}, r.translate_x, r.translate_y, symmetric);
           r.translate_in_pixels = true;
         } else {
           xy("translate_percent", {0, 0}, r.translate_x, r.translate_y, symmetric);
         }
         Range rot = a.range("rotate", {0, 0}, symmetric);
         r.rotate = {-rot.second, -rot.first};  // Albumentations' Affine turns clockwise for positive angles
         xy("shear", {0, 0}, r.shear_x, r.shear_y, symmetric);
         r.keep_ratio = a.boolean("keep_ratio", false);
         WarpStyle s = warp_style(a, BorderMode::Constant, "mode", "cval");
         return std::make_shared<Affine>("Affine", r, s, a.p(0.5));
       }},
      {"ImageDataGenerator", [](OpArgs& a) { return keras_generator(a); }},
      {"OpticalDistortion", [](OpArgs& a) {
         Range d = a.range("distort_limit", {-0.05, 0.05}, symmetric);
         Range s = a.range("shift_limit", {-0.05, 0.05}, symmetric);
         WarpStyle st = warp_style(a, BorderMode::Reflect101);
         a.fill("mask_value");
         return std::make_shared<OpticalDistortion>(d, s, st, a.p(0.5));
       }},
      {"ColorJitter", [](OpArgs& a) {
         Range b = a.range("brightness", {0.8, 1.2}, around_one), c = a.range("contrast", {0.8, 1.2}, around_one);
         Range s = a.range("saturation", {0.8, 1.2}, around_one), h = a.range("hue", {-0.2, 0.2}, symmetric);
         if (b.first < 0 || c.first < 0 || s.first < 0) a.error("brightness", "factors must be >= 0");
         if (h.first < -0.5 || h.second > 0.5) a.error("hue", "must lie in [-0.5, 0.5]");
         return std::make_shared<ColorJitter>(b, c, s, h, a.p(0.5));
       }},
      {"ToGray", [](OpArgs& a) { return std::make_shared<Grayscale>("ToGray", 3, a.p(0.5)); }},
      {"Grayscale", [](OpArgs& a) {
         int n = a.integer("num_output_channels", 1);
         if (n != 1 && n != 3) a.error("num_output_channels", "must be 1 or 3");
         return std::make_shared<Grayscale>("Grayscale", n, a.p(1));
       }},
      {"RandomGrayscale", [](OpArgs& a) { return std::make_shared<Grayscale>("RandomGrayscale", 3, a.p(0.1)); }},
      {"GaussianBlur", [](OpArgs& a) {
         auto lim = int_range(a, "blur_limit", {3, 7}, 0);
         Range sig = a.range("sigma_limit", {0, 0}, from_zero);
         return std::make_shared<GaussianBlur>(lim, sig, a.p(0.5));
       }},
      {"MotionBlur", [](OpArgs& a) {
         auto lim = int_range(a, "blur_limit", {3, 7}, 3);
         bool shifted = a.boolean("allow_shifted", true);
         return std::make_shared<MotionBlur>(lim, shifted, a.p(0.5));
       }},
      {"GaussNoise", [](OpArgs& a) {
         Range v = a.range("var_limit", {10, 50}, from_zero);
         double mean = a.number("mean", 0);
         bool pc = a.boolean("per_channel", true);
         return std::make_shared<GaussNoise>(v, mean, pc, a.p(0.5));
       }},
      {"CoarseDropout", [](OpArgs& a) {
         CoarseDropout::Limits l;
         l.max_holes = a.integer("max_holes", 8);
         l.min_holes = a.integer("min_holes", l.max_holes);
         l.max_height = a.number("max_height", 8);
         l.min_height = a.number("min_height", l.max_height);
         l.max_width = a.number("max_width", 8);
         l.min_width = a.number("min_width", l.max_width);
         if (l.min_holes > l.max_holes || l.min_height > l.max_height || l.min_width > l.max_width)
           a.error("min_holes", "a minimum is greater than its maximum");
         Fill f = a.fill("fill_value");
         a.fill("mask_fill_value");
         return std::make_shared<CoarseDropout>("CoarseDropout", l, f, a.p(0.5));
       }},
      {"Cutout", [](OpArgs& a) {
         CoarseDropout::Limits l;
         l.min_holes = l.max_holes = a.integer("num_holes", 8);
         l.min_height = l.max_height = a.integer("max_h_size", 8);
         l.min_width = l.max_width = a.integer("max_w_size", 8);
         Fill f = a.fill("fill_value");
         return std::make_shared<CoarseDropout>("Cutout", l, f, a.p(0.5));
       }},
      {"RandomErasing", [](OpArgs& a) {
         Range scale = a.range("scale", {0.02, 0.33}, from_zero);
         Range ratio = a.range("ratio", {0.3, 3.3}, [](double x) { return Range{x, x}; });
         bool random = a.has("value") && a.get("value").is_string();
         if (random && a.get("value").get<std::string>() != "random") a.error("value", "expected numbers or \"random\"");
         Fill v = random ? Fill{} : a.fill("value");
         return std::make_shared<RandomErasing>(scale, ratio, v, random, a.p(0.5));
       }},
      {"Normalize", [](OpArgs& a) {
         std::vector<float> m = a.floats("mean", {0.485f, 0.456f, 0.406f}), s = a.floats("std", {0.229f, 0.224f, 0.225f});
         for (float x : s)
           if (x <= 0) a.error("std", "values must be > 0");
         float mp = static_cast<float>(a.number("max_pixel_value", 255));
         return std::make_shared<Normalize>(m, s, mp, a.p(1));
       }},
      {"Rescale", [](OpArgs& a) {
         a.p(1);
         return std::make_shared<Rescale>(static_cast<float>(a.number("scale", 1.0 / 255)));
       }},
      {"ToTensor", [](OpArgs& a) { a.p(1); return std::make_shared<ToTensor>(true); }},
      {"ToTensorV2", [](OpArgs& a) { a.p(1); a.boolean("transpose_mask", false); return std::make_shared<ToTensor>(false); }},
  };
  return f;
}

}  // namespace

Interpolation interpolation_from_name(const std::string& n) {
  if (n == "nearest" || n == "0") return Interpolation::Nearest;
  if (n == "linear" || n == "bilinear" || n == "1") return Interpolation::Linear;
  if (n == "area" || n == "3") return Interpolation::Area;
  fail("interpolation", "unknown interpolation \"", n, "\" (use nearest/0, linear/1 or area/3)");
}

BorderMode border_mode_from_name(const std::string& n) {
  if (n == "constant" || n == "0") return BorderMode::Constant;
  if (n == "replicate" || n == "edge" || n == "1") return BorderMode::Replicate;
  if (n == "symmetric" || n == "2") return BorderMode::Reflect;
  if (n == "wrap" || n == "3") return BorderMode::Wrap;
  if (n == "reflect_101" || n == "reflect101" || n == "reflect" || n == "4") return BorderMode::Reflect101;
  fail("border mode", "unknown border mode \"", n,
       "\" (use constant/0, replicate/edge/1, symmetric/2, wrap/3, reflect/reflect_101/4)");
}

TransformPtr parse_op(const json& op, const std::string& source) {
  if (!op.is_object() || !op.contains("op") || !op["op"].is_string())
    fail("augment config", source, ": each op must be an object with \"op\": NAME, got ", op.dump());
  const std::string name = op["op"].get<std::string>();
  auto it = factories().find(name);
  if (it == factories().end()) {
    std::string known;
    for (const auto& [k, v] : factories()) known += (known.empty() ? "" : ", ") + k;
    fail("augment config", source, ": unknown op \"", name, "\" (known: ", known, ")");
  }
  OpArgs args(op, name, source);
  TransformPtr t = it->second(args);
  args.finish();
  return t;
}

Pipeline parse_pipeline(const json& ops, const std::string& source) {
  if (!ops.is_array()) fail("augment config", source, ": a pipeline must be a list of ops, got ", ops.type_name());
  std::vector<TransformPtr> list;
  for (const json& op : ops) list.push_back(parse_op(op, source));
  return Pipeline(std::make_shared<Compose>(list, 1.0));
}

namespace {
json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& x : n) a.push_back(yaml_to_json(x));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      try {
        size_t pos = 0;
        long long i = std::stoll(s, &pos);
        if (pos == s.size()) return i;
        double d = std::stod(s, &pos);
        if (pos == s.size()) return d;
      } catch (...) {
      }
      return s;
    }
    default: return nullptr;
  }
}
}  // namespace

json parse_yaml_text(const std::string& text, const std::string& source) {
  try {
    return yaml_to_json(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    fail("config", source, ": not valid YAML (", e.what(), ")");
  }
}

json read_config_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("augment config", path, ": cannot open the file");
  const bool yaml = path.size() > 5 && (path.ends_with(".yaml") || path.ends_with(".yml"));
  try {
    if (yaml) return yaml_to_json(YAML::LoadFile(path));
    return json::parse(f);
  } catch (const json::exception& e) {
    fail("augment config", path, ": not valid JSON (", e.what(), ")");
  } catch (const YAML::Exception& e) {
    fail("augment config", path, ": not valid YAML (", e.what(), ")");
  }
}

Pipeline load_pipeline(const std::string& path, const std::string& split) {
  json j = read_config_file(path);
  if (j.is_object() && j.contains("augment")) j = j["augment"];
  if (j.is_object()) {
    if (!j.contains(split))
      fail("augment config", path, ": no \"", split, "\" pipeline (expected a list of ops, {\"", split,
           "\": [...]} or {\"augment\": {\"", split, "\": [...]}})");
    j = j[split];
  }
  return parse_pipeline(j, path);
}

}  // namespace ember
