// The sweep's pure parts (see sweep.h).
#include "apps/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "apps/report.h"
#include "framework/core/error.h"
#include "framework/core/parse_number.h"

namespace effnet::app {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// "91.23 ± 0.45" in %, over the runs' values that exist (>= 0).
std::string pct_mean_sd(const std::vector<double>& values) {
  std::vector<double> have;
  for (double v : values)
    if (v >= 0) have.push_back(v);
  if (have.empty()) return "-";
  const MeanSd m = mean_sd(have);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f", 100.0 * m.mean, 100.0 * m.sd);
  return buf;
}

// The runs grouped by point, points in the order of their first run.
std::vector<std::vector<const SweepRun*>> by_point(const std::vector<SweepRun>& runs) {
  std::vector<std::vector<const SweepRun*>> groups;
  for (const SweepRun& r : runs) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g[0]->point == r.point; });
    if (it == groups.end())
      groups.push_back({&r});
    else
      it->push_back(&r);
  }
  return groups;
}

template <class F>
std::vector<double> each(const std::vector<const SweepRun*>& g, F&& f) {
  std::vector<double> out;
  for (const SweepRun* r : g) out.push_back(f(*r));
  return out;
}

}  // namespace

std::vector<GridAxis> parse_grid(const std::string& text) {
  std::vector<GridAxis> axes;
  std::set<std::string> keys;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    const size_t eq = word.find('=');
    EFFNET_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < word.size(), "--grid: '", word,
                 "' is not KEY=VALUE[,VALUE...] (e.g. lr=0.001,0.01)");
    GridAxis a;
    a.key = word.substr(0, eq);
    if (a.key.rfind("--", 0) == 0) a.key = a.key.substr(2);
    EFFNET_CHECK(a.key != "seed", "--grid: seeds are an axis of their own: use --seeds 0,1,2");
    EFFNET_CHECK(keys.insert(a.key).second, "--grid: '", a.key, "' is given twice");
    a.values = split(word.substr(eq + 1), ',');
    std::set<std::string> seen;
    for (const std::string& v : a.values) {
      EFFNET_CHECK(!v.empty(), "--grid: '", word, "' has an empty value");
      EFFNET_CHECK(seen.insert(v).second, "--grid: ", a.key, " lists '", v, "' twice");
    }
    axes.push_back(std::move(a));
  }
  return axes;
}

std::vector<int64_t> parse_seeds(const std::string& text) {
  std::vector<int64_t> seeds;
  for (const std::string& s : split(text, ',')) {
    const std::optional<int64_t> v = parse_int64(s);
    EFFNET_CHECK(v && *v >= 0, "--seeds: '", s, "' is not a non-negative integer (e.g. --seeds 0,1,2)");
    EFFNET_CHECK(std::find(seeds.begin(), seeds.end(), *v) == seeds.end(), "--seeds: ", *v, " is given twice");
    seeds.push_back(*v);
  }
  return seeds;
}

std::vector<GridPoint> grid_points(const std::vector<GridAxis>& axes) {
  std::vector<GridPoint> points = {{}};
  for (const GridAxis& a : axes) {
    std::vector<GridPoint> next;
    for (const GridPoint& p : points)
      for (const std::string& v : a.values) {
        GridPoint q = p;
        q.emplace_back(a.key, v);
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  return points;
}

std::string point_label(const GridPoint& p) {
  if (p.empty()) return "base";
  std::string out;
  for (const auto& [k, v] : p) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

std::string point_folder(const GridPoint& p) {
  if (p.empty()) return "base";
  std::string out;
  for (const auto& [k, v] : p) out += (out.empty() ? "" : "_") + k + "-" + v;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '-';
  return out;
}

SweepRun sweep_run_of(const GridPoint& point, int64_t seed, const PipelineResults& r) {
  SweepRun s;
  s.point = point;
  s.seed = seed;
  s.finetune_val = r.finetune.training.best_val_accuracy;
  s.finetune_test = r.finetune.test.accuracy;
  s.pseudo_kept = r.final_pseudolabel().kept;
  s.pseudo_precision = r.final_pseudolabel().precision;
  s.retrain_val = r.final_retrain().best_val_accuracy;
  s.test = r.predict.accuracy;
  s.seconds = total_seconds(r);
  return s;
}

MeanSd mean_sd(const std::vector<double>& v) {
  MeanSd m;
  m.n = int64_t(v.size());
  if (v.empty()) return m;
  for (double x : v) m.mean += x;
  m.mean /= double(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - m.mean) * (x - m.mean);
    m.sd = std::sqrt(ss / double(v.size() - 1));
  }
  return m;
}

std::string render_sweep_csv(const std::vector<GridAxis>& axes, const std::vector<SweepRun>& runs) {
  std::string out;
  for (const GridAxis& a : axes) out += a.key + ",";
  out += "seed,finetune_val,finetune_test,pseudo_kept,pseudo_precision,retrain_val,test,seconds\n";
  for (const SweepRun& r : runs) {
    for (const auto& kv : r.point) out += kv.second + ",";
    char buf[256];
    std::snprintf(buf, sizeof buf, "%lld,%.6f,%.6f,%lld,%.6f,%.6f,%.6f,%.1f\n", (long long)r.seed, r.finetune_val,
                  r.finetune_test, (long long)r.pseudo_kept, r.pseudo_precision, r.retrain_val, r.test, r.seconds);
    out += buf;
  }
  return out;
}

std::string render_sweep_markdown(const std::vector<SweepRun>& runs) {
  std::string out =
      "| configuration | seeds | fine-tune val % | fine-tune test % | pseudo-labels kept | precision % | retrain val % "
      "| **test %** | time per run |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& g : by_point(runs)) {
    std::string seeds;
    for (const SweepRun* r : g) seeds += (seeds.empty() ? "" : ",") + std::to_string(r->seed);
    const MeanSd kept = mean_sd(each(g, [](const SweepRun& r) { return double(r.pseudo_kept); }));
    const MeanSd secs = mean_sd(each(g, [](const SweepRun& r) { return r.seconds; }));
    char kept_text[48], time_text[32];
    std::snprintf(kept_text, sizeof kept_text, "%.0f ± %.0f", kept.mean, kept.sd);
    std::snprintf(time_text, sizeof time_text, "%.1f min", secs.mean / 60.0);
    out += "| " + point_label(g[0]->point) + " | " + seeds + " | " +
           pct_mean_sd(each(g, [](const SweepRun& r) { return r.finetune_val; })) + " | " +
           pct_mean_sd(each(g, [](const SweepRun& r) { return r.finetune_test; })) + " | " + kept_text + " | " +
           pct_mean_sd(each(g, [](const SweepRun& r) { return r.pseudo_precision; })) + " | " +
           pct_mean_sd(each(g, [](const SweepRun& r) { return r.retrain_val; })) + " | **" +
           pct_mean_sd(each(g, [](const SweepRun& r) { return r.test; })) + "** | " + time_text + " |\n";
  }
  return out;
}

std::string render_sweep_html(const std::string& title, const std::vector<SweepRun>& runs) {
  const auto groups = by_point(runs);
  // The x range: every value drawn, widened to whole percents.
  double lo = 1, hi = 0;
  for (const SweepRun& r : runs)
    for (double v : {r.test, r.retrain_val})
      if (v >= 0) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (lo > hi) lo = 0, hi = 1;
  lo = std::floor(100 * lo - 0.5) / 100, hi = std::ceil(100 * hi + 0.5) / 100;
  const double left = 260, width = 440, row_h = 34, top = 40;
  const double h = top + row_h * double(groups.size()) + 40;
  auto x_of = [&](double v) { return left + (v - lo) / (hi - lo) * width; };
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return std::string(b);
  };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(left + width + 30) + "\" height=\"" +
                    num(h) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<text x=\"" + num(left) + "\" y=\"18\" font-weight=\"bold\">accuracy %: mean ± sd over seeds (dots: each "
         "seed); blue test, orange retrain validation</text>\n";
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4.0, x = x_of(v);
    svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(top - 8) + "\" x2=\"" + num(x) + "\" y2=\"" + num(h - 30) +
           "\" stroke=\"#ddd\"/><text x=\"" + num(x) + "\" y=\"" + num(h - 14) + "\" text-anchor=\"middle\">" +
           num(100 * v) + "</text>\n";
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    const double y = top + row_h * double(i) + row_h / 2;
    svg += "<text x=\"" + num(left - 10) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" +
           html_escape(point_label(groups[i][0]->point)) + "</text>\n";
    const std::pair<const char*, double SweepRun::*> series[] = {{"#1f77b4", &SweepRun::test},
                                                                  {"#ff7f0e", &SweepRun::retrain_val}};
    double dy = -6;
    for (const auto& [color, field] : series) {
      std::vector<double> v;
      for (const SweepRun* r : groups[i])
        if (r->*field >= 0) v.push_back(r->*field);
      if (!v.empty()) {
        const MeanSd m = mean_sd(v);
        svg += "<line x1=\"" + num(x_of(m.mean - m.sd)) + "\" y1=\"" + num(y + dy) + "\" x2=\"" +
               num(x_of(m.mean + m.sd)) + "\" y2=\"" + num(y + dy) + "\" stroke=\"" + color + "\" stroke-width=\"3\"/>";
        svg += "<rect x=\"" + num(x_of(m.mean) - 2) + "\" y=\"" + num(y + dy - 6) + "\" width=\"4\" height=\"12\" fill=\"" +
               color + "\"/>";
        for (double x : v)
          svg += "<circle cx=\"" + num(x_of(x)) + "\" cy=\"" + num(y + dy) + "\" r=\"2.5\" fill=\"white\" stroke=\"" +
                 color + "\"/>";
        svg += "\n";
      }
      dy += 12;
    }
  }
  svg += "</svg>\n";
  // The table as HTML too: the Markdown's rows.
  std::string table = "<table>\n";
  std::istringstream md(render_sweep_markdown(runs));
  std::string line;
  for (int row = 0; std::getline(md, line); ++row) {
    if (row == 1) continue;  // the |---| separator
    std::vector<std::string> cells = split(line, '|');
    table += "<tr>";
    for (size_t c = 1; c + 1 < cells.size(); ++c) {
      std::string cell = cells[c];
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      if (cell.size() > 4 && cell.rfind("**", 0) == 0) cell = cell.substr(2, cell.size() - 4);
      table += (row == 0 ? "<th>" : "<td>") + html_escape(cell) + (row == 0 ? "</th>" : "</td>");
    }
    table += "</tr>\n";
  }
  table += "</table>\n";
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}</style></head><body>\n"
         "<h1>" + html_escape(title) + "</h1>\n" + svg + table + "</body></html>\n";
}

}  // namespace effnet::app
