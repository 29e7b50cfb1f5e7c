// "key = value" text: the pipeline's configuration file and the settings stored in checkpoints.
// One entry per line; '#' starts a comment; blank lines are skipped; keys are unique. Values run
// to the end of the line (surrounding spaces trimmed), so they may contain spaces and '='.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace effnet::app {

struct ConfigEntry {
  std::string key, value;
  int line = 0;  // 1-based, for messages
};
using Settings = std::vector<std::pair<std::string, std::string>>;

// `name` appears in error messages (a file path, or a description of the text).
std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& name);
// Throws naming the file when it cannot be read, and file:line for a malformed line or a repeated key.
std::vector<ConfigEntry> read_config_file(const std::string& path);
std::string format_settings(const Settings& settings);
// The value of `key`, or `fallback` when absent.
std::string setting_or(const std::vector<ConfigEntry>& entries, const std::string& key, const std::string& fallback);
// The settings that differ between stored ones (a checkpoint's, a run folder's) and these
// ("key: old -> new" lines); empty when they match.
std::vector<std::string> settings_differences(const std::vector<ConfigEntry>& stored, const Settings& current);

}  // namespace effnet::app
