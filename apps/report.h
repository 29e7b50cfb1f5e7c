// report.html: a self-contained page (inline SVG and CSS, no scripts, no external references)
// with the results table, the learning curves of fine-tune and retrain, the pseudo-label counts
// per class and the confusion matrices, so that a browser shows it without a network.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "apps/metrics_log.h"
#include "apps/results.h"

namespace effnet::app {

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

// The page for a pipeline's results: the table, the learning curves of both training stages,
// the pseudo-labels per class (with the correct part when measured), both confusion matrices
// and the configuration. Parts without data are left out.
std::string render_report(const PipelineResults& results);

}  // namespace effnet::app
