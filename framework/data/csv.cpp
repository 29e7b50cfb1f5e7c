// CSV writing (see csv.h).
#include "framework/data/csv.h"

#include "framework/core/atomic_file.h"

namespace effnet::data {

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string format_csv(const CsvRow& header, const std::vector<CsvRow>& rows) {
  std::string out;
  auto line = [&](const CsvRow& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ',';
      out += csv_cell(cells[i]);
    }
    out += '\n';
  };
  line(header);
  for (const CsvRow& r : rows) line(r);
  return out;
}

void write_csv(const std::string& path, const CsvRow& header, const std::vector<CsvRow>& rows) {
  write_file_atomic(path, format_csv(header, rows));
}

}  // namespace effnet::data
