// Stage records on disk (see stage_record.h). Each record type lists its fields once, in
// fields(v, record); the Writer and the Reader below are the two visitors that walk them.
// Nested records and lists of records get dotted keys ("test.accuracy", "history.3.epoch").
#include "apps/stage_record.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "apps/config_file.h"
#include "apps/results.h"
#include "framework/core/atomic_file.h"
#include "framework/core/error.h"
#include "framework/core/parse_number.h"

namespace effnet::app {
namespace fs = std::filesystem;

namespace {

// ---- the fields of each record ----------------------------------------------------------------
template <class V>
void fields(V& v, EpochMetrics& m) {
  v("stage", m.stage);
  v("epoch", m.epoch);
  v("lr", m.lr);
  v("train_loss", m.train_loss);
  v("train_accuracy", m.train_accuracy);
  v("val_loss", m.val_loss);
  v("val_accuracy", m.val_accuracy);
  v("best", m.best);
  v("seconds", m.seconds);
  v("images_per_second", m.images_per_second);
}

template <class V>
void fields(V& v, TrainingRecord& r) {
  v("best_val_accuracy", r.best_val_accuracy);
  v("best_epoch", r.best_epoch);
  v("epochs", r.epochs);
  v("stopped_early", r.stopped_early);
  v("train_images", r.train_images);
  v("val_images", r.val_images);
  v("seconds", r.seconds);
  v("best_checkpoint", r.best_checkpoint);
  v("classes", r.classes);
  v("history", r.history);
}

template <class V>
void fields(V& v, PredictRecord& r) {
  v("images", r.images);
  v("accuracy", r.accuracy);
  v("confusion", r.confusion);
  v("classes", r.classes);
  v("seconds", r.seconds);
}

template <class V>
void fields(V& v, PseudolabelRecord& r) {
  v("considered", r.considered);
  v("kept", r.kept);
  v("per_class", r.per_class);
  v("correct_per_class", r.correct_per_class);
  v("thresholds", r.thresholds);
  v("precision", r.precision);
  v("seconds", r.seconds);
}

template <class V>
void fields(V& v, FinetuneStageRecord& r) {
  v("training", r.training);
  v("test", r.test);
}

// ---- values as text ---------------------------------------------------------------------------
std::string encode_number(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);  // round-trips exactly
  return buf;
}

std::string encode_list(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out;
}

std::string encode_list(const std::vector<double>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + encode_number(v[i]);
  return out;
}

// Config text cuts values at '#' and trims them, so those characters (and line breaks, and '%'
// itself) are written as %XX.
std::string encode_text(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool edge_space = c == ' ' && (i == 0 || i + 1 == s.size());
    if (c == '%' || c == '#' || c == '\n' || c == '\r' || c == '\t' || edge_space) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", unsigned(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// What both visitors share: a nested record's fields get the record's key as a prefix.
template <class Visitor>
class Nested {
 public:
  template <class R>
  void operator()(const std::string& key, R& record) {
    const std::string outer = prefix_;
    prefix_ += key + ".";
    fields(static_cast<Visitor&>(*this), record);
    prefix_ = outer;
  }

 protected:
  std::string prefix_;
};

class Writer : public Nested<Writer> {
 public:
  using Nested::operator();
  Settings entries;

  void operator()(const std::string& key, double& x) { put(key, encode_number(x)); }
  void operator()(const std::string& key, int64_t& x) { put(key, std::to_string(x)); }
  void operator()(const std::string& key, bool& x) { put(key, x ? "1" : "0"); }
  void operator()(const std::string& key, std::string& s) { put(key, encode_text(s)); }
  void operator()(const std::string& key, std::vector<int64_t>& v) { put(key, encode_list(v)); }
  void operator()(const std::string& key, std::vector<double>& v) { put(key, encode_list(v)); }
  void operator()(const std::string& key, std::vector<std::vector<int64_t>>& m) {
    std::string out;
    for (size_t i = 0; i < m.size(); ++i) out += (i ? ";" : "") + encode_list(m[i]);
    put(key, out);
  }
  void operator()(const std::string& key, std::vector<std::string>& list) { each(key, list); }
  template <class R>
  void operator()(const std::string& key, std::vector<R>& list) {
    each(key, list);
  }

 private:
  template <class T>
  void each(const std::string& key, std::vector<T>& list) {
    put(key + ".count", std::to_string(list.size()));
    for (size_t i = 0; i < list.size(); ++i) (*this)(key + "." + std::to_string(i), list[i]);
  }
  void put(const std::string& key, const std::string& value) { entries.emplace_back(prefix_ + key, value); }
};

class Reader : public Nested<Reader> {
 public:
  using Nested::operator();
  Reader(const std::vector<ConfigEntry>& entries, std::string path) : path_(std::move(path)) {
    for (const ConfigEntry& e : entries) values_[e.key] = e.value;
  }

  void operator()(const std::string& key, double& x) {
    const std::string& v = get(key);
    const std::optional<double> parsed = parse_double(v);
    if (!parsed) bad(key, v);
    x = *parsed;
  }
  void operator()(const std::string& key, int64_t& x) { x = integer(key, get(key)); }
  void operator()(const std::string& key, bool& x) {
    const std::string& v = get(key);
    if (v != "0" && v != "1") bad(key, v);
    x = v == "1";
  }
  void operator()(const std::string& key, std::string& s) { s = decode_text(key, get(key)); }
  void operator()(const std::string& key, std::vector<int64_t>& v) { v = list(key, get(key)); }
  // Lists of numbers came after the first records (the per-class thresholds): a record written
  // before them reads as having none.
  void operator()(const std::string& key, std::vector<double>& v) {
    v.clear();
    if (!values_.count(prefix_ + key)) return;
    std::stringstream ss(get(key));
    for (std::string cell; std::getline(ss, cell, ',');) {
      const std::optional<double> x = parse_double(cell);
      if (!x) bad(key, cell);
      v.push_back(*x);
    }
  }
  void operator()(const std::string& key, std::vector<std::vector<int64_t>>& m) {
    m.clear();
    std::stringstream ss(get(key));
    for (std::string row; std::getline(ss, row, ';');) m.push_back(list(key, row));
  }
  void operator()(const std::string& key, std::vector<std::string>& list) { each(key, list); }
  template <class R>
  void operator()(const std::string& key, std::vector<R>& list) {
    each(key, list);
  }

 private:
  template <class T>
  void each(const std::string& key, std::vector<T>& list) {
    const int64_t n = integer(key + ".count", get(key + ".count"));
    if (n < 0) bad(key + ".count", get(key + ".count"));
    // Every element has an entry of its own, so a count beyond the file's entries is damage, and
    // must not become an allocation of that many elements (a fuzzing finding).
    if (uint64_t(n) > values_.size())
      EFFNET_THROW(path_, ": '", prefix_ + key, ".count' says ", n, " but the file holds only ", values_.size(),
                   " entries (delete the file to run the stage again)");
    list.assign(size_t(n), T());
    for (size_t i = 0; i < list.size(); ++i) (*this)(key + "." + std::to_string(i), list[i]);
  }
  const std::string& get(const std::string& key) const {
    auto it = values_.find(prefix_ + key);
    if (it == values_.end())
      EFFNET_THROW(path_, ": no '", prefix_ + key, "' entry (delete the file to run the stage again)");
    return it->second;
  }
  [[noreturn]] void bad(const std::string& key, const std::string& value) const {
    EFFNET_THROW(path_, ": '", prefix_ + key, "' holds a bad value '", value,
                 "' (delete the file to run the stage again)");
  }
  int64_t integer(const std::string& key, const std::string& v) const {
    const std::optional<int64_t> x = parse_int64(v);
    if (!x) bad(key, v);
    return *x;
  }
  std::vector<int64_t> list(const std::string& key, const std::string& text) const {
    std::vector<int64_t> out;
    std::stringstream ss(text);
    for (std::string cell; std::getline(ss, cell, ',');) out.push_back(integer(key, cell));
    return out;
  }
  std::string decode_text(const std::string& key, const std::string& v) const {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] != '%') {
        out += v[i];
        continue;
      }
      auto hex = [&](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        bad(key, v);
      };
      if (i + 2 >= v.size()) bad(key, v);
      out += char(hex(v[i + 1]) * 16 + hex(v[i + 2]));
      i += 2;
    }
    return out;
  }
  std::map<std::string, std::string> values_;
  std::string path_;
};

}  // namespace

std::string record_path(const std::string& stage_dir) { return (fs::path(stage_dir) / "done.txt").string(); }

bool has_record(const std::string& stage_dir) {
  std::error_code ec;
  return fs::is_regular_file(record_path(stage_dir), ec);
}

template <class Record>
void write_record(const std::string& stage_dir, const Record& record) {
  Record copy = record;  // the visitors take their fields by reference
  Writer w;
  fields(w, copy);
  fs::create_directories(stage_dir);
  write_file_atomic(record_path(stage_dir), format_settings(w.entries));
}

template <class Record>
Record read_record(const std::string& stage_dir) {
  const std::string path = record_path(stage_dir);
  Reader r(read_config_file(path), path);
  Record record;
  fields(r, record);
  return record;
}

template void write_record(const std::string&, const TrainingRecord&);
template void write_record(const std::string&, const PredictRecord&);
template void write_record(const std::string&, const PseudolabelRecord&);
template void write_record(const std::string&, const FinetuneStageRecord&);
template TrainingRecord read_record(const std::string&);
template PredictRecord read_record(const std::string&);
template PseudolabelRecord read_record(const std::string&);
template FinetuneStageRecord read_record(const std::string&);

}  // namespace effnet::app
