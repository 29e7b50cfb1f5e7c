// report.html and its inline SVG charts (see report.h).
#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace effnet::app {

namespace {

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo > 0 ? hi - lo : 1.0;
  const double raw = span / 5.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) out.push_back(t);
  return out;
}

std::string text(double x, double y, const std::string& s, const char* anchor = "middle", int size = 11,
                 const char* extra = "") {
  return "<text x=\"" + fmt("%.1f", x) + "\" y=\"" + fmt("%.1f", y) + "\" font-size=\"" + std::to_string(size) +
         "\" text-anchor=\"" + anchor + "\"" + extra + ">" + html_escape(s) + "</text>";
}

std::string line(double x1, double y1, double x2, double y2, const char* stroke, const char* extra = "") {
  return "<line x1=\"" + fmt("%.1f", x1) + "\" y1=\"" + fmt("%.1f", y1) + "\" x2=\"" + fmt("%.1f", x2) + "\" y2=\"" +
         fmt("%.1f", y2) + "\" stroke=\"" + stroke + "\"" + extra + "/>";
}

std::string rect(double x, double y, double w, double h, const std::string& fill, const char* extra = "") {
  return "<rect x=\"" + fmt("%.1f", x) + "\" y=\"" + fmt("%.1f", y) + "\" width=\"" + fmt("%.1f", std::max(0.0, w)) +
         "\" height=\"" + fmt("%.1f", std::max(0.0, h)) + "\" fill=\"" + fill + "\"" + extra + "/>";
}

std::vector<Series> curves(const std::vector<EpochMetrics>& rows, bool accuracy) {
  Series train{"train", "#1f77b4", {}}, val{"validation", "#d62728", {}};
  for (const EpochMetrics& m : rows) {
    const double scale = accuracy ? 100.0 : 1.0;
    train.points.emplace_back(double(m.epoch), scale * (accuracy ? m.train_accuracy : m.train_loss));
    val.points.emplace_back(double(m.epoch), scale * (accuracy ? m.val_accuracy : m.val_loss));
  }
  return {train, val};
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_line_chart(const std::string& title, const std::vector<Series>& series, const std::string& x_label,
                           const std::string& y_label, double y_min, double y_max) {
  const double W = 460, H = 280, left = 56, right = 16, top = 30, bottom = 44;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const Series& s : series)
    for (auto [x, y] : s.points) {
      if (!std::isfinite(y)) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (y_min < y_max) y0 = y_min, y1 = y_max;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  auto py = [&](double y) { return top + (1.0 - (y - y0) / (y1 - y0)) * (H - top - bottom); };
  std::string svg = "<svg width=\"" + fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) + "\" viewBox=\"0 0 " +
                    fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" role=\"img\">";
  svg += text(W / 2, 18, title, "middle", 13, " font-weight=\"bold\"");
  for (double t : ticks(y0, y1)) {
    svg += line(left, py(t), W - right, py(t), "#e5e5e5");
    svg += text(left - 6, py(t) + 4, fmt("%g", t), "end", 10);
  }
  std::vector<double> xt = ticks(x0, x1);
  for (double t : xt)
    if (std::fabs(t - std::round(t)) < 1e-9) svg += text(px(t), H - bottom + 16, fmt("%g", t), "middle", 10);
  svg += line(left, top, left, H - bottom, "#333") + line(left, H - bottom, W - right, H - bottom, "#333");
  svg += text((left + W - right) / 2, H - 8, x_label, "middle", 11);
  svg += text(14, (top + H - bottom) / 2, y_label, "middle", 11,
              (" transform=\"rotate(-90 14 " + fmt("%.1f", (top + H - bottom) / 2) + ")\"").c_str());
  double legend_x = left + 10;
  for (const Series& s : series) {
    std::string pts;
    for (auto [x, y] : s.points)
      if (std::isfinite(y)) pts += fmt("%.1f", px(x)) + "," + fmt("%.1f", py(std::clamp(y, y0, y1))) + " ";
    if (!pts.empty()) {
      svg += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"2\" points=\"" + pts + "\"/>";
      for (auto [x, y] : s.points)
        if (std::isfinite(y))
          svg += "<circle cx=\"" + fmt("%.1f", px(x)) + "\" cy=\"" + fmt("%.1f", py(std::clamp(y, y0, y1))) +
                 "\" r=\"2.5\" fill=\"" + s.color + "\"/>";
    }
    svg += rect(legend_x, top + 6, 12, 3, s.color) + text(legend_x + 16, top + 11, s.name, "start", 10);
    legend_x += 24 + 7.0 * double(s.name.size());
  }
  return svg + "</svg>";
}

std::string svg_bar_chart(const std::string& title, const std::vector<std::string>& labels,
                          const std::vector<int64_t>& values, const std::vector<int64_t>& highlight) {
  const double W = 520, H = 310, left = 56, right = 16, top = 46, bottom = 86;
  const double n = std::max<double>(1, double(values.size()));
  int64_t biggest = 1;
  for (int64_t v : values) biggest = std::max(biggest, v);
  const double y_top = double(biggest) * 1.05;  // room for the value above the tallest bar
  const double slot = (W - left - right) / n;
  auto py = [&](double y) { return top + (1.0 - y / y_top) * (H - top - bottom); };
  std::string svg = "<svg width=\"" + fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) + "\" viewBox=\"0 0 " +
                    fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" role=\"img\">";
  svg += text(W / 2, 18, title, "middle", 13, " font-weight=\"bold\"");
  for (double t : ticks(0, y_top)) {
    svg += line(left, py(t), W - right, py(t), "#e5e5e5");
    svg += text(left - 6, py(t) + 4, fmt("%g", t), "end", 10);
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const double x = left + slot * double(i) + slot * 0.15, w = slot * 0.7;
    svg += rect(x, py(double(values[i])), w, py(0) - py(double(values[i])), "#9ecae1");
    if (i < highlight.size())
      svg += rect(x, py(double(highlight[i])), w, py(0) - py(double(highlight[i])), "#3182bd");
    svg += text(x + w / 2, py(double(values[i])) - 3, std::to_string(values[i]), "middle", 9);
    const double lx = x + w / 2, ly = H - bottom + 12;
    svg += text(lx, ly, i < labels.size() ? labels[i] : std::to_string(i), "end", 10,
                (" transform=\"rotate(-40 " + fmt("%.1f", lx) + " " + fmt("%.1f", ly) + ")\"").c_str());
  }
  svg += line(left, H - bottom, W - right, H - bottom, "#333") + line(left, top, left, H - bottom, "#333");
  if (!highlight.empty())
    svg += rect(W - right - 150, 26, 10, 10, "#3182bd") + text(W - right - 136, 35, "correct", "start", 10) +
           rect(W - right - 80, 26, 10, 10, "#9ecae1") + text(W - right - 66, 35, "wrong", "start", 10);
  return svg + "</svg>";
}

std::string svg_confusion(const std::string& title, const std::vector<std::vector<int64_t>>& counts,
                          const std::vector<std::string>& classes) {
  const size_t k = counts.size();
  const double cell = k <= 10 ? 38 : std::max(8.0, 380.0 / double(k));
  const double left = 110, top = 36, W = left + cell * double(k) + 20, H = top + cell * double(k) + 96;
  std::string svg = "<svg width=\"" + fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) + "\" viewBox=\"0 0 " +
                    fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" role=\"img\">";
  svg += text(W / 2, 18, title, "middle", 13, " font-weight=\"bold\"");
  auto name = [&](size_t i) { return i < classes.size() ? classes[i] : std::to_string(i); };
  for (size_t r = 0; r < k; ++r) {
    int64_t total = 0;
    for (int64_t v : counts[r]) total += v;
    svg += text(left - 6, top + cell * (double(r) + 0.5) + 4, name(r), "end", 10);
    for (size_t c = 0; c < k; ++c) {
      const double share = total ? double(counts[r][c]) / double(total) : 0.0;
      // White to dark blue with the row share; text flips to white on dark cells.
      const int shade = int(255 - 200 * share);
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", shade, int(255 - 150 * share), 255);
      svg += rect(left + cell * double(c), top + cell * double(r), cell - 1, cell - 1, fill);
      if (cell >= 20)
        svg += text(left + cell * (double(c) + 0.5), top + cell * (double(r) + 0.5) + 4, std::to_string(counts[r][c]),
                    "middle", 9, share > 0.5 ? " fill=\"#fff\"" : "");
    }
  }
  for (size_t c = 0; c < k; ++c) {
    const double lx = left + cell * (double(c) + 0.5), ly = top + cell * double(k) + 12;
    svg += text(lx, ly, name(c), "end", 10,
                (" transform=\"rotate(-40 " + fmt("%.1f", lx) + " " + fmt("%.1f", ly) + ")\"").c_str());
  }
  svg += text(left + cell * double(k) / 2, H - 8, "predicted class (rows: true class)", "middle", 11);
  return svg + "</svg>";
}

namespace {

// A table whose first row is the header.
std::string html_table(const std::vector<std::vector<std::string>>& table) {
  std::string h = "<table>";
  for (size_t r = 0; r < table.size(); ++r) {
    h += "<tr>";
    for (const std::string& cell : table[r]) h += (r ? "<td>" : "<th>") + html_escape(cell) + (r ? "</td>" : "</th>");
    h += "</tr>";
  }
  return h + "</table>\n";
}

// One row per class: its threshold, the labels kept and, with true labels, how many were right.
std::vector<std::vector<std::string>> pseudo_label_table(const PseudolabelRecord& p,
                                                         const std::vector<std::string>& classes) {
  const bool measured = !p.correct_per_class.empty();
  std::vector<std::vector<std::string>> t = {{"class", "threshold", "kept"}};
  if (measured) t[0].insert(t[0].end(), {"correct", "precision"});
  for (size_t c = 0; c < p.per_class.size(); ++c) {
    t.push_back({c < classes.size() ? classes[c] : std::to_string(c),
                 c < p.thresholds.size() ? fmt("%.4f", p.thresholds[c]) : "",
                 std::to_string(p.per_class[c])});
    if (!measured) continue;
    t.back().push_back(std::to_string(p.correct_per_class[c]));
    t.back().push_back(p.per_class[c] > 0 ? fmt("%.2f %%", 100.0 * double(p.correct_per_class[c]) /
                                                              double(p.per_class[c]))
                                          : "-");
  }
  return t;
}

}  // namespace

std::string render_report(const PipelineResults& d) {
  const std::vector<std::vector<std::string>> table = results_table(d);
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(d.title) +
      "</title>\n<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}th{background:#f3f3f3}"
      ".charts{display:flex;flex-wrap:wrap;gap:16px}pre{background:#f7f7f7;padding:8px}</style></head><body>\n";
  h += "<h1>" + html_escape(d.title) + "</h1>\n";
  h += "<h2>Results</h2>\n" + html_table(table);
  auto stage_charts = [&](const char* name, const std::vector<EpochMetrics>& rows) {
    if (rows.empty()) return;
    h += std::string("<h2>Learning curves: ") + name + "</h2>\n<div class=\"charts\">";
    h += svg_line_chart(std::string(name) + ": accuracy", curves(rows, true), "epoch", "accuracy (%)", 0, 100);
    h += svg_line_chart(std::string(name) + ": loss", curves(rows, false), "epoch", "cross-entropy");
    h += "</div>\n";
  };
  stage_charts("fine-tune", d.finetune.training.history);
  // Each round: its learning curves and what it pseudo-labelled per class (correct part inside).
  std::vector<std::pair<const PseudolabelRecord*, const TrainingRecord*>> rounds = {{&d.pseudolabel, &d.retrain}};
  for (const SelfTrainingRound& k : d.later_rounds) rounds.emplace_back(&k.pseudolabel, &k.retrain);
  for (size_t k = 0; k < rounds.size(); ++k) {
    const std::string round = rounds.size() > 1 ? " (round " + std::to_string(k + 1) + ")" : "";
    stage_charts(("retrain" + round).c_str(), rounds[k].second->history);
  }
  for (size_t k = 0; k < rounds.size(); ++k) {
    const PseudolabelRecord& p = *rounds[k].first;
    if (p.per_class.empty()) continue;
    const std::string round = rounds.size() > 1 ? " (round " + std::to_string(k + 1) + ")" : "";
    h += "<h2>Pseudo-labels per class" + round + "</h2>\n<div class=\"charts\">";
    h += svg_bar_chart("pseudo-labels kept per class" + round, d.classes, p.per_class, p.correct_per_class);
    h += "</div>\n" + html_table(pseudo_label_table(p, d.classes));
  }
  const auto& before = d.finetune.test.confusion;
  const auto& after = d.predict.confusion;
  if (!before.empty() || !after.empty()) {
    h += "<h2>Confusion matrices (test set)</h2>\n<div class=\"charts\">";
    if (!before.empty()) h += svg_confusion("after fine-tune", before, d.classes);
    if (!after.empty()) h += svg_confusion("after retrain", after, d.classes);
    h += "</div>\n";
  }
  if (!d.settings.empty()) h += "<h2>Configuration</h2>\n<pre>" + html_escape(d.settings) + "</pre>\n";
  return h + "</body></html>\n";
}

}  // namespace effnet::app
