// A minimal JSON writer for the apps' result and metrics files: objects and arrays built in
// order, strings escaped, non-finite numbers written as null (JSON has no NaN).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace effnet::app {

std::string json_string(const std::string& s);
std::string json_number(double x);

class JsonObject {
 public:
  JsonObject& add(const std::string& key, const std::string& value);  // a string
  JsonObject& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  JsonObject& add(const std::string& key, double value);
  JsonObject& add(const std::string& key, int64_t value);
  JsonObject& add(const std::string& key, int value) { return add(key, int64_t(value)); }
  JsonObject& add(const std::string& key, bool value);
  JsonObject& add(const std::string& key, const std::vector<int64_t>& values);
  JsonObject& add(const std::string& key, const std::vector<double>& values);
  JsonObject& add(const std::string& key, const std::vector<std::string>& values);
  // `json` is inserted as is (a nested object or array already written).
  JsonObject& add_raw(const std::string& key, const std::string& json);
  std::string str(int indent = 0) const;  // indent > 0: one member per line

 private:
  std::vector<std::pair<std::string, std::string>> members_;
};

// "[a, b, ...]" of already written JSON values.
std::string json_array(const std::vector<std::string>& values);

}  // namespace effnet::app
