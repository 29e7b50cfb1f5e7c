// A small command-line parser for the effnet subcommands: declared options with defaults and help
// text, `--name value` and `--flag` forms, positional arguments, and a clear error for anything
// unknown or malformed.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace effnet::cli {

class Args {
 public:
  Args(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}

  // Declares an option taking a value (default shown in --help) or a boolean flag.
  Args& option(const std::string& name, const std::string& default_value, const std::string& help);
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
  void set_default(const std::string& name, const std::string& value);
  // Every declared option and flag with its current value, in declaration order.
  std::vector<std::pair<std::string, std::string>> values() const;
  std::string help() const;

 private:
  struct Opt {
    std::string value, help;
    bool is_flag = false, given = false;
  };
  std::string command_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Opt> opts_;
  std::vector<std::pair<std::string, std::string>> positional_help_;
  size_t required_positionals_ = 0;
};

}  // namespace effnet::cli
