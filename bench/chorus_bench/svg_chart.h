// Inline SVG charts for chorus-bench's HTML reports: line charts (linear or log y) and histogram
// bars, with labelled axes, 1-2-5 ticks and a legend, as plain text (no script, no fetch). Only
// finite numbers are ever written: a point that is not finite (or not positive on a log axis)
// breaks its line instead.
#pragma once

#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chorus::bench {

enum class value_format {
    plain,         // 12, 0.5
    count,         // 950, 12k, 1.2M
    microseconds,  // 250 µs, 1.5 ms, 2 s
    seconds,       // 5 s
    percent,       // 0.5 %
};

std::string format_value(double value, value_format format);
std::string html_escape(std::string_view text);

// 1-2-5 steps covering [low, high], about `target` of them.
std::vector<double> linear_ticks(double low, double high, int target);
// Powers of ten within [low, high] (low > 0), with 2 and 5 in between when few decades.
std::vector<double> log_ticks(double low, double high);

struct chart_series {
    chart_series(std::string name_, std::vector<double> x_, std::vector<double> y_, int color_,
                 bool dashed_ = false, bool markers_ = false)
        : name(std::move(name_)),
          x(std::move(x_)),
          y(std::move(y_)),
          color(color_),
          dashed(dashed_),
          markers(markers_) {}
    std::string name;
    std::vector<double> x, y;  // same length
    int color = 0;             // index into the palette
    bool dashed = false;
    bool markers = false;  // a dot per point (few points, e.g. a ladder's steps)
};

struct line_chart {
    line_chart(std::string title_, std::string x_label_, std::string y_label_,
               value_format x_format_, value_format y_format_)
        : title(std::move(title_)),
          x_label(std::move(x_label_)),
          y_label(std::move(y_label_)),
          x_format(x_format_),
          y_format(y_format_) {}
    std::string title;             // read by screen readers (<title>), drawn by the page
    std::string x_label, y_label;  // with their units, e.g. "time since sending started (s)"
    value_format x_format = value_format::plain;
    value_format y_format = value_format::plain;
    bool x_log = false, y_log = false;
    // When finite, the x axis spans at least [x_min, x_max] (time charts start at zero and
    // cover the whole run even where the data stop earlier).
    double x_min = NAN, x_max = NAN;
    bool x_whole = false;  // whole-number x ticks only (a load counted in rooms)
    std::vector<chart_series> series;
};

// An <svg> element, or "" when no series has a point that can be drawn.
std::string svg_line_chart(const line_chart& chart);

struct bar_chart {
    bar_chart(std::string title_, std::string x_label_, std::string y_label_,
              value_format x_format_, value_format y_format_)
        : title(std::move(title_)),
          x_label(std::move(x_label_)),
          y_label(std::move(y_label_)),
          x_format(x_format_),
          y_format(y_format_) {}
    std::string title, x_label, y_label;
    value_format x_format = value_format::plain;
    value_format y_format = value_format::plain;
    bool x_log = false;
    std::vector<double> edges;    // bars.size() + 1, ascending
    std::vector<double> heights;  // one per bar
    // Vertical lines with a short label (e.g. {"p99", 1830.0}).
    std::vector<std::pair<std::string, double>> markers;
};

// An <svg> element, or "" when there are no bars with a height.
std::string svg_bar_chart(const bar_chart& chart);

}  // namespace chorus::bench
