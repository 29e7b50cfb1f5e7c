// "key = value" text (see config_file.h).
#include "apps/config_file.h"

#include <map>
#include <set>
#include <sstream>

#include "framework/core/error.h"
#include "framework/core/input_file.h"

namespace effnet::app {
namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& name) {
  std::vector<ConfigEntry> out;
  std::set<std::string> seen;
  std::istringstream in(text);
  std::string raw;
  for (int line = 1; std::getline(in, raw); ++line) {
    size_t hash = raw.find('#');
    std::string s = trim(hash == std::string::npos ? raw : raw.substr(0, hash));
    if (s.empty()) continue;
    size_t eq = s.find('=');
    EFFNET_CHECK(eq != std::string::npos, name, ":", line, ": expected 'key = value', got '", s, "'");
    ConfigEntry e{trim(s.substr(0, eq)), trim(s.substr(eq + 1)), line};
    EFFNET_CHECK(!e.key.empty() && e.key.find_first_of(" \t") == std::string::npos, name, ":", line,
                 ": bad key '", e.key, "'");
    EFFNET_CHECK(seen.insert(e.key).second, name, ":", line, ": key '", e.key, "' appears twice");
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ConfigEntry> read_config_file(const std::string& path) {
  return parse_config_text(read_input_text(path, "config file"), path);
}

std::string format_settings(const Settings& settings) {
  std::string out;
  for (const auto& [k, v] : settings) out += k + " = " + v + "\n";
  return out;
}

std::string setting_or(const std::vector<ConfigEntry>& entries, const std::string& key, const std::string& fallback) {
  for (const ConfigEntry& e : entries)
    if (e.key == key) return e.value;
  return fallback;
}

std::vector<std::string> settings_differences(const std::vector<ConfigEntry>& stored, const Settings& current) {
  std::map<std::string, std::string> old;
  for (const ConfigEntry& e : stored) old[e.key] = e.value;
  std::vector<std::string> diffs;
  for (const auto& [k, v] : current) {
    auto it = old.find(k);
    if (it == old.end())
      diffs.push_back(k + ": (absent) -> " + v);
    else if (it->second != v)
      diffs.push_back(k + ": " + it->second + " -> " + v);
    if (it != old.end()) old.erase(it);
  }
  for (const auto& [k, v] : old) diffs.push_back(k + ": " + v + " -> (absent)");
  return diffs;
}

}  // namespace effnet::app
