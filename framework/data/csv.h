// CSV text as the project writes it (RFC 4180): one header line, one line per row, cells that hold
// a comma, a double quote or a line break quoted (with quotes doubled). The label lists, the
// predictions and the confusion matrices are all written through here.
#pragma once

#include <string>
#include <vector>

namespace effnet::data {

using CsvRow = std::vector<std::string>;

std::string csv_cell(const std::string& s);
std::string format_csv(const CsvRow& header, const std::vector<CsvRow>& rows);
// format_csv written atomically (framework/core/atomic_file.h).
void write_csv(const std::string& path, const CsvRow& header, const std::vector<CsvRow>& rows);

}  // namespace effnet::data
