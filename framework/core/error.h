// Errors: one exception type carrying file:line and the failing condition or call.
// Every check in the framework goes through EFFNET_CHECK (bad input, broken invariants) so that
// callers can catch, report and keep their data; nothing calls exit() or abort().
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace effnet {

class Error : public std::runtime_error {
 public:
  Error(const char* file, int line, const std::string& what)
      : std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what) {}
};

namespace detail {
// Streams any number of message parts into one string: EFFNET_CHECK(x, "got ", n, " items").
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

}  // namespace effnet

#define EFFNET_THROW(...) throw ::effnet::Error(__FILE__, __LINE__, ::effnet::detail::concat(__VA_ARGS__))

#define EFFNET_CHECK(cond, ...)                                                 \
  do {                                                                          \
    if (!(cond)) EFFNET_THROW(__VA_ARGS__ __VA_OPT__(, ) " [check: " #cond "]"); \
  } while (0)
