// JSON writing (see json_writer.h).
#include "apps/json_writer.h"

#include <cmath>
#include <cstdio>

namespace effnet::app {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

std::string json_number(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", x);
  return buf;
}

JsonObject& JsonObject::add(const std::string& key, const std::string& value) {
  members_.emplace_back(key, json_string(value));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, double value) {
  members_.emplace_back(key, json_number(value));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, int64_t value) {
  members_.emplace_back(key, std::to_string(value));
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, bool value) {
  members_.emplace_back(key, value ? "true" : "false");
  return *this;
}
JsonObject& JsonObject::add(const std::string& key, const std::vector<int64_t>& values) {
  std::vector<std::string> parts;
  for (int64_t v : values) parts.push_back(std::to_string(v));
  return add_raw(key, json_array(parts));
}
JsonObject& JsonObject::add(const std::string& key, const std::vector<double>& values) {
  std::vector<std::string> parts;
  for (double v : values) parts.push_back(json_number(v));
  return add_raw(key, json_array(parts));
}
JsonObject& JsonObject::add(const std::string& key, const std::vector<std::string>& values) {
  std::vector<std::string> parts;
  for (const std::string& v : values) parts.push_back(json_string(v));
  return add_raw(key, json_array(parts));
}
JsonObject& JsonObject::add_raw(const std::string& key, const std::string& json) {
  members_.emplace_back(key, json);
  return *this;
}

std::string JsonObject::str(int indent) const {
  const std::string pad(size_t(indent), ' ');
  std::string out = "{";
  for (size_t i = 0; i < members_.size(); ++i) {
    out += i ? "," : "";
    out += indent > 0 ? "\n" + pad : (i ? " " : "");
    out += json_string(members_[i].first) + ": " + members_[i].second;
  }
  out += indent > 0 && !members_.empty() ? "\n}" : "}";
  return out;
}

std::string json_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + values[i];
  return out + "]";
}

}  // namespace effnet::app
