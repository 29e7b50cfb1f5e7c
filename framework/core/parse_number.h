// Strict number parsing for text read from files and command lines: the whole text must be the
// number (no leading or trailing characters, no overflow). Callers name the field and its source
// in their own error messages; std::stoll and friends accept "12abc" and throw bare "stoll".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace effnet {

// A decimal integer ("-12", "+3"), or nothing.
std::optional<int64_t> parse_int64(const std::string& text);
// A floating-point number as strtod reads it ("1e-3", "inf", "nan"), or nothing.
std::optional<double> parse_double(const std::string& text);

}  // namespace effnet
