// A small command-line parser for the effnet subcommands: declared options with defaults and help
// text, `--name value` and `--flag` forms, positional arguments, and a clear error for anything
// unknown or malformed.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

namespace effnet::cli {

// The values a numeric option allows, declared with the option and checked where integer() or
// number() reads it (a config file's value too), so that a message can name the value, the
// option, where the value came from and the allowed range. NaN is never in range.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;  // exclusive bounds

  static Range any() { return {}; }
  static Range at_least(double lo) { return {lo}; }
  static Range above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true}; }
  static Range between(double lo, double hi) { return {lo, hi}; }           // [lo, hi]
  static Range from_below(double lo, double hi) { return {lo, hi, false, true}; }  // [lo, hi)
  bool contains(double x) const;
  bool bounded() const;      // has a finite bound: the option is numeric
  std::string text() const;  // ">= 0", "in [0, 1)", ...
};

class Args {
 public:
  Args(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}

  // Declares an option taking a value (default shown in --help) or a boolean flag.
  // A numeric option names its Range; integer() and number() refuse values outside it.
  Args& option(const std::string& name, const std::string& default_value, const std::string& help,
               Range range = Range::any());
  Args& flag(const std::string& name, const std::string& help);
  Args& positional(const std::string& name, const std::string& help, bool required = true);

  // Parses argv[first..]; returns false when --help was asked (help already printed).
  bool parse(int argc, char** argv, int first);

  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double number(const std::string& name) const;
  bool on(const std::string& name) const;
  bool given(const std::string& name) const;  // set on the command line (not a default)
  bool has(const std::string& name) const;    // a declared option or flag (not a positional)
  // Sets a declared option as if it were the default (a config file's value): given() stays false.
  // `source` says where the value came from in messages ("config file run.conf:3").
  void set_default(const std::string& name, const std::string& value, const std::string& source = "");
  // Every declared option and flag with its current value, in declaration order.
  std::vector<std::pair<std::string, std::string>> values() const;
  // The built-in default of a declared option or flag (before any config file).
  std::string builtin_default(const std::string& name) const;
  std::string help() const;

 private:
  struct Opt {
    std::string value, help;
    bool is_flag = false, given = false;
    Range range;
    std::string source;  // set by set_default; empty: the command line or the built-in default
    std::string builtin;  // the default it was declared with
  };
  // "effnet CMD: --NAME VALUE is out of range (...)" when `x` is outside the option's range.
  void check_range(const std::string& name, double x) const;
  // For an option with a range: its value is a finite number in the range (else throws).
  void check_value(const std::string& name) const;
  std::string source_of(const std::string& name) const;
  std::string command_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Opt> opts_;
  std::vector<std::pair<std::string, std::string>> positional_help_;
  size_t required_positionals_ = 0;
};

}  // namespace effnet::cli
