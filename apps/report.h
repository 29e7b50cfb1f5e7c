// report.html: a self-contained page (inline SVG and CSS, no scripts, no external references)
// with the results table, the learning curves of fine-tune and retrain, the pseudo-label counts
// per class and the confusion matrices, so that a browser shows it without a network.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "apps/metrics_log.h"

namespace effnet::app {

struct ReportData {
  std::string title = "effnet pipeline";
  std::vector<std::vector<std::string>> results;  // first row: header
  std::vector<EpochMetrics> finetune, retrain;
  std::vector<std::string> classes;
  std::vector<int64_t> pseudo_per_class;  // empty: no pseudo-labelling
  std::vector<int64_t> pseudo_correct_per_class;  // empty: precision unknown
  std::vector<std::vector<int64_t>> confusion_finetune, confusion_final;  // empty: not measured
  std::string settings;  // the run's configuration, shown verbatim
};

std::string html_escape(const std::string& s);

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;  // (x, y)
};
// A line chart with axes, ticks and a legend; y range from the data unless y_min < y_max.
std::string svg_line_chart(const std::string& title, const std::vector<Series>& series, const std::string& x_label,
                           const std::string& y_label, double y_min = 0, double y_max = 0);
// Vertical bars, one per label; `highlight` (same size, optional) is drawn inside each bar
// (e.g. the correct part of the pseudo-labels).
std::string svg_bar_chart(const std::string& title, const std::vector<std::string>& labels,
                          const std::vector<int64_t>& values, const std::vector<int64_t>& highlight = {});
// A heat map of counts[true][predicted], row-normalised shading, counts written in the cells.
std::string svg_confusion(const std::string& title, const std::vector<std::vector<int64_t>>& counts,
                          const std::vector<std::string>& classes);

std::string render_report(const ReportData& data);

}  // namespace effnet::app
