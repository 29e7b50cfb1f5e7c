// Stage completion markers of the pipeline: OUT/<stage>/done.txt, "key = value" lines holding
// the stage's results, written atomically once the stage has finished. A stage with a marker is
// not run again; one without is (re)started, and a training stage then resumes from its last.h5.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/config_file.h"

namespace effnet::app {

std::string marker_path(const std::string& stage_dir);
bool stage_done(const std::string& stage_dir);
void write_marker(const std::string& stage_dir, const Settings& results);
std::vector<ConfigEntry> read_marker(const std::string& stage_dir);

// Values inside markers: numbers printed exactly, lists comma-separated, matrices rows joined by ';'.
std::string encode_number(double x);
std::string encode_list(const std::vector<int64_t>& v);
std::string encode_matrix(const std::vector<std::vector<int64_t>>& m);
double decode_number(const std::vector<ConfigEntry>& marker, const std::string& key);
std::vector<int64_t> decode_list(const std::vector<ConfigEntry>& marker, const std::string& key);
std::vector<std::vector<int64_t>> decode_matrix(const std::vector<ConfigEntry>& marker, const std::string& key);

}  // namespace effnet::app
