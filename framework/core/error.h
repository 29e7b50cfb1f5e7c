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
      : std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what), message_(what) {}
  // The message without its "file.cpp:123: " prefix, for wrapping in a better one.
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// An allocation that failed (host or GPU memory). Its own type so that the code that chose the
// sizes (a stage: batch and resolution) can catch it and say which setting asked for the memory.
class OutOfMemory : public Error {
 public:
  using Error::Error;
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
#define EFFNET_THROW_AS(Type, ...) throw Type(__FILE__, __LINE__, ::effnet::detail::concat(__VA_ARGS__))

#define EFFNET_CHECK(cond, ...)                                                 \
  do {                                                                          \
    if (!(cond)) EFFNET_THROW(__VA_ARGS__ __VA_OPT__(, ) " [check: " #cond "]"); \
  } while (0)
