// Strict number parsing (see parse_number.h): strtoll/strtod, with the end pointer and errno checked.
#include "framework/core/parse_number.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace effnet {
namespace {

// strtoll/strtod skip leading white space; a field with it is not a number here.
bool starts_plainly(const std::string& text) {
  return !text.empty() && !std::isspace(static_cast<unsigned char>(text[0]));
}

}  // namespace

std::optional<int64_t> parse_int64(const std::string& text) {
  if (!starts_plainly(text)) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || end != text.c_str() + text.size()) return std::nullopt;
  return int64_t(x);
}

std::optional<double> parse_double(const std::string& text) {
  if (!starts_plainly(text)) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(text.c_str(), &end);
  // ERANGE also flags underflow to a subnormal or zero, which is a fine value to read.
  if ((errno == ERANGE && std::abs(x) > 1.0) || end != text.c_str() + text.size()) return std::nullopt;
  return x;
}

}  // namespace effnet
