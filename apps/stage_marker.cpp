// Pipeline stage markers (see stage_marker.h).
#include "apps/stage_marker.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "framework/core/error.h"
#include "framework/data/image.h"

namespace effnet::app {
namespace fs = std::filesystem;

std::string marker_path(const std::string& stage_dir) { return (fs::path(stage_dir) / "done.txt").string(); }

bool stage_done(const std::string& stage_dir) {
  std::error_code ec;
  return fs::is_regular_file(marker_path(stage_dir), ec);
}

void write_marker(const std::string& stage_dir, const Settings& results) {
  fs::create_directories(stage_dir);
  const std::string text = format_settings(results);
  data::write_file_atomic(marker_path(stage_dir), text.data(), text.size());
}

std::vector<ConfigEntry> read_marker(const std::string& stage_dir) {
  return read_config_file(marker_path(stage_dir));
}

std::string encode_number(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

std::string encode_list(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out;
}

std::string encode_matrix(const std::vector<std::vector<int64_t>>& m) {
  std::string out;
  for (size_t i = 0; i < m.size(); ++i) out += (i ? ";" : "") + encode_list(m[i]);
  return out;
}

namespace {
const ConfigEntry& entry(const std::vector<ConfigEntry>& marker, const std::string& key) {
  for (const ConfigEntry& e : marker)
    if (e.key == key) return e;
  EFFNET_THROW("stage marker: no '", key, "' entry (delete the stage's done.txt to run it again)");
}
std::vector<int64_t> parse_list(const std::string& s, const std::string& key) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string cell; std::getline(ss, cell, ',');) {
    try {
      out.push_back(std::stoll(cell));
    } catch (const std::exception&) {
      EFFNET_THROW("stage marker: '", key, "' holds a bad number '", cell, "'");
    }
  }
  return out;
}
}  // namespace

double decode_number(const std::vector<ConfigEntry>& marker, const std::string& key) {
  const std::string& v = entry(marker, key).value;
  try {
    return std::stod(v);
  } catch (const std::exception&) {
    EFFNET_THROW("stage marker: '", key, "' holds a bad number '", v, "'");
  }
}

std::vector<int64_t> decode_list(const std::vector<ConfigEntry>& marker, const std::string& key) {
  return parse_list(entry(marker, key).value, key);
}

std::vector<std::vector<int64_t>> decode_matrix(const std::vector<ConfigEntry>& marker, const std::string& key) {
  std::vector<std::vector<int64_t>> out;
  std::stringstream ss(entry(marker, key).value);
  for (std::string row; std::getline(ss, row, ';');) out.push_back(parse_list(row, key));
  return out;
}

}  // namespace effnet::app
