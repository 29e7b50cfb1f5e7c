// Command-line parsing (see args.h).
#include "cli/args.h"

#include <cmath>
#include <iostream>
#include <sstream>

#include "framework/core/error.h"
#include "framework/core/parse_number.h"

namespace effnet::cli {

bool Range::contains(double x) const {
  const bool above_min = min_open ? x > min : x >= min;
  const bool below_max = max_open ? x < max : x <= max;
  return above_min && below_max;  // false for NaN
}

bool Range::bounded() const { return std::isfinite(min) || std::isfinite(max); }

std::string Range::text() const {
  std::ostringstream os;
  os.precision(10);
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  if (has_min && has_max)
    os << "in " << (min_open ? "(" : "[") << min << ", " << max << (max_open ? ")" : "]");
  else if (has_min)
    os << (min_open ? "> " : ">= ") << min;
  else if (has_max)
    os << (max_open ? "< " : "<= ") << max;
  else
    os << "finite";
  return os.str();
}

Args& Args::option(const std::string& name, const std::string& def, const std::string& help, Range range) {
  order_.push_back(name);
  opts_[name] = Opt{def, help, false, false, range, "", def};
  return *this;
}

Args& Args::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  opts_[name] = Opt{"0", help, true, false, Range::any(), "", "0"};
  return *this;
}

Args& Args::positional(const std::string& name, const std::string& help, bool required) {
  positional_help_.emplace_back(name, help);
  if (required) required_positionals_++;
  opts_[name] = Opt{"", help, false, false, Range::any(), "", ""};
  return *this;
}

bool Args::parse(int argc, char** argv, int first) {
  size_t pos = 0;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << help();
      return false;
    }
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value;
      size_t eq = name.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      auto it = opts_.find(name);
      EFFNET_CHECK(it != opts_.end(),
                   "effnet ", command_, ": unknown option --", name, " (see --help)");
      bool is_positional = false;
      for (auto& p : positional_help_) is_positional |= p.first == name;
      EFFNET_CHECK(!is_positional, "effnet ", command_, ": unknown option --", name, " (see --help)");
      Opt& o = it->second;
      if (o.is_flag) {
        o.value = has_value ? value : "1";
      } else {
        if (!has_value) {
          EFFNET_CHECK(i + 1 < argc, "effnet ", command_, ": option --", name, " needs a value");
          value = argv[++i];
        }
        o.value = value;
      }
      o.given = true;
    } else {
      EFFNET_CHECK(pos < positional_help_.size(), "effnet ", command_, ": unexpected argument '", a, "'");
      Opt& o = opts_[positional_help_[pos++].first];
      o.value = a;
      o.given = true;
    }
  }
  EFFNET_CHECK(pos >= required_positionals_, "effnet ", command_, ": missing argument <",
               positional_help_[pos].first, "> (see --help)");
  // Numeric values are checked now as well as where they are read, so that a bad one stops the
  // command before any work, even in an option this command reads late or not at all.
  for (const std::string& n : order_)
    if (opts_.at(n).given) check_value(n);
  return true;
}

std::string Args::str(const std::string& name) const {
  auto it = opts_.find(name);
  EFFNET_CHECK(it != opts_.end(), "internal: undeclared option ", name);
  return it->second.value;
}

std::string Args::source_of(const std::string& name) const {
  const Opt& o = opts_.at(name);
  if (o.given) return "on the command line";
  return o.source.empty() ? "the default" : "from " + o.source;
}

void Args::check_range(const std::string& name, double x) const {
  const Range& r = opts_.at(name).range;
  EFFNET_CHECK(r.contains(x), "effnet ", command_, ": --", name, " ", str(name), " (", source_of(name),
               ") is out of range: it must be ", r.text());
}

int64_t Args::integer(const std::string& name) const {
  const std::string v = str(name);
  const std::optional<int64_t> x = parse_int64(v);
  if (!x) EFFNET_THROW("effnet ", command_, ": --", name, " expects an integer, got '", v, "' (", source_of(name), ")");
  check_range(name, double(*x));
  return *x;
}

double Args::number(const std::string& name) const {
  const std::string v = str(name);
  const std::optional<double> x = parse_double(v);
  if (!x) EFFNET_THROW("effnet ", command_, ": --", name, " expects a number, got '", v, "' (", source_of(name), ")");
  // Infinity and NaN are no setting's value, whatever its range.
  EFFNET_CHECK(std::isfinite(*x), "effnet ", command_, ": --", name, " ", v, " (", source_of(name),
               ") is not a finite number");
  check_range(name, *x);
  return *x;
}

bool Args::on(const std::string& name) const { return str(name) == "1" || str(name) == "true"; }
bool Args::given(const std::string& name) const { return opts_.at(name).given; }

bool Args::has(const std::string& name) const {
  for (const std::string& n : order_)
    if (n == name) return true;
  return false;
}

void Args::set_default(const std::string& name, const std::string& value, const std::string& source) {
  EFFNET_CHECK(has(name), "effnet ", command_, ": unknown option '", name, "'");
  opts_[name].value = value;
  opts_[name].source = source;
  check_value(name);
}

void Args::check_value(const std::string& name) const {
  const Opt& o = opts_.at(name);
  if (!o.range.bounded()) return;  // not a numeric option
  (void)number(name);
}

std::vector<std::pair<std::string, std::string>> Args::values() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& n : order_) out.emplace_back(n, opts_.at(n).value);
  return out;
}

std::string Args::builtin_default(const std::string& name) const {
  EFFNET_CHECK(has(name), "effnet ", command_, ": unknown option '", name, "'");
  return opts_.at(name).builtin;
}

std::string Args::help() const {
  std::ostringstream os;
  os << "usage: effnet " << command_;
  for (auto& [n, h] : positional_help_) os << " <" << n << ">";
  os << " [options]\n\n" << summary_ << "\n";
  if (!positional_help_.empty()) {
    os << "\narguments:\n";
    for (auto& [n, h] : positional_help_) os << "  " << n << "\n      " << h << "\n";
  }
  if (!order_.empty()) {
    os << "\noptions:\n";
    for (const std::string& n : order_) {
      const Opt& o = opts_.at(n);
      os << "  --" << n;
      if (!o.is_flag) os << " VALUE" << (o.value.empty() ? "" : " (default: " + o.value + ")");
      if (o.range.bounded()) os << " [" << o.range.text() << "]";
      os << "\n      " << o.help << "\n";
    }
  }
  return os.str();
}

}  // namespace effnet::cli
