// Ember's one exception type and the helpers that build its messages.
//
// Every failure a user can cause (a shape mismatch, a bad file, an unknown
// model name) ends in an ember::Error whose message names the operation and
// the values involved, e.g. "add: shapes [2, 3] and [4] cannot be broadcast".
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& s, const T& first, const Rest&... rest) {
  if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    s << '[';
    for (size_t i = 0; i < first.size(); ++i) s << (i ? ", " : "") << first[i];
    s << ']';
  } else {
    s << first;
  }
  append(s, rest...);
}
}  // namespace detail

// Concatenates the parts (vectors of int64 print as [a, b, c]).
template <class... Parts>
std::string cat_str(const Parts&... parts) {
  std::ostringstream s;
  detail::append(s, parts...);
  return s.str();
}

// Throws ember::Error("<op>: <parts...>").
template <class... Parts>
[[noreturn]] void fail(const char* op, const Parts&... parts) {
  throw Error(cat_str(op, ": ", parts...));
}

}  // namespace ember

// EMBER_CHECK(cond, "op", "message parts", ...) throws when cond is false.
#define EMBER_CHECK(cond, op, ...)          \
  do {                                      \
    if (!(cond)) ::ember::fail(op, __VA_ARGS__); \
  } while (0)
