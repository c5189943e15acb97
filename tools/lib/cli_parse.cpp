#include "tools/lib/cli_parse.h"

#include "engine/error.h"

namespace ember {

Shape parse_shape(const std::string& text, const char* option) {
  Shape out;
  std::string cur;
  auto flush = [&] {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(cur, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    EMBER_CHECK(used == cur.size() && !cur.empty() && v > 0, option, "expected sizes like 3x224x224, got '", text, "'");
    out.push_back(v);
    cur.clear();
  };
  for (char c : text) {
    if (c == 'x' || c == 'X' || c == ',') {
      flush();
    } else {
      cur += c;
    }
  }
  flush();
  return out;
}

}  // namespace ember
