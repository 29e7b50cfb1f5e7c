// Per-epoch metrics files (see metrics_log.h).
#include "apps/metrics_log.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/json_writer.h"
#include "framework/core/error.h"
#include "framework/core/parse_number.h"
#include "framework/core/atomic_file.h"
#include "framework/core/input_file.h"

namespace effnet::app {
namespace {
const char* kHeader = "stage,epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,best,seconds,images_per_second";
}

std::string metrics_json(const std::vector<EpochMetrics>& rows) {
  std::vector<std::string> items;
  for (const EpochMetrics& m : rows)
    items.push_back(JsonObject()
                        .add("stage", m.stage)
                        .add("epoch", m.epoch)
                        .add("lr", m.lr)
                        .add("train_loss", m.train_loss)
                        .add("train_accuracy", m.train_accuracy)
                        .add("val_loss", m.val_loss)
                        .add("val_accuracy", m.val_accuracy)
                        .add("best", m.best)
                        .add("seconds", m.seconds)
                        .add("images_per_second", m.images_per_second)
                        .str());
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ",\n " : "\n ") + items[i];
  return out + (items.empty() ? "]\n" : "\n]\n");
}

void write_metrics(const std::string& dir, const std::vector<EpochMetrics>& rows) {
  std::string csv = std::string(kHeader) + "\n";
  char buf[512];
  for (const EpochMetrics& m : rows) {
    // Round-trip precision (17 digits): a resumed run reads its earlier epochs back from this file,
    // and its record must then equal an uninterrupted run's to the last bit (timings aside).
    std::snprintf(buf, sizeof buf, "%s,%lld,%.17g,%.17g,%.17g,%.17g,%.17g,%d,%.3f,%.1f\n", m.stage.c_str(),
                  (long long)m.epoch, m.lr, m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy, int(m.best),
                  m.seconds, m.images_per_second);
    csv += buf;
  }
  const std::filesystem::path d(dir);
  write_file_atomic((d / "metrics.csv").string(), csv);
  const std::string json = metrics_json(rows);
  write_file_atomic((d / "metrics.json").string(), json);
}

std::vector<EpochMetrics> read_metrics_csv(const std::string& path) {
  std::istringstream f(read_input_file(path, "metrics file"));
  std::string line;
  std::getline(f, line);
  EFFNET_CHECK(line == kHeader, path, ": not a metrics file (header '", line, "')");
  std::vector<EpochMetrics> rows;
  for (int n = 2; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    EFFNET_CHECK(cells.size() == 10, path, ":", n, ": expected 10 fields, got ", cells.size());
    // Column c of the header, read as a number; the error names the column and the line.
    auto number = [&](size_t c) {
      const std::optional<double> x = parse_double(cells[c]);
      EFFNET_CHECK(x, path, ":", n, ": column ", c + 1, " of '", kHeader, "' is not a number: '", cells[c], "'");
      return *x;
    };
    EpochMetrics m;
    m.stage = cells[0];
    const std::optional<int64_t> epoch = parse_int64(cells[1]);
    EFFNET_CHECK(epoch, path, ":", n, ": the epoch is not an integer: '", cells[1], "'");
    m.epoch = *epoch;
    m.lr = number(2);
    m.train_loss = number(3);
    m.train_accuracy = number(4);
    m.val_loss = number(5);
    m.val_accuracy = number(6);
    m.best = cells[7] == "1";
    m.seconds = number(8);
    m.images_per_second = number(9);
    rows.push_back(m);
  }
  return rows;
}

}  // namespace effnet::app
