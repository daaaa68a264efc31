// SVG chart drawing: a fixed 760x300 canvas scaled by the page (viewBox), the plot area inside
// margins that hold the legend (top), tick labels and axis titles. Text widths are estimated from
// the character count (12 px system font) to lay the legend out without overlaps.
#include "bench/chorus_bench/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace chorus::bench {
namespace {

constexpr double width = 760, height = 300;
constexpr double margin_left = 84, margin_right = 18, margin_bottom = 52;
constexpr double char_width = 6.8;  // 12 px system font, an average character
constexpr double legend_row = 18;
constexpr const char* palette[] = {"#1f6fb4", "#d1352b", "#2a9d3a",
                                   "#8a55c2", "#e07b12", "#6b6b6b"};
constexpr int palette_size = sizeof(palette) / sizeof(palette[0]);

std::string number(const char* pattern, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), pattern, value);
    return buffer;
}

// Three significant digits without an exponent.
std::string significant(double value) {
    if (std::fabs(value) >= 999.5) return number("%.0f", value);
    if (std::fabs(value) < 1e-9) return "0";
    return number("%.3g", value);
}

std::string coordinate(double value) {
    return number("%.1f", value);
}

const char* color(int index) {
    return palette[((index % palette_size) + palette_size) % palette_size];
}

// Maps data to pixels along one axis (linear, or log10 when `log`).
struct scale {
    double low = 0, high = 1, pixel_low = 0, pixel_high = 1;
    bool log = false;
    double operator()(double value) const {
        double a = log ? std::log10(value) : value, lo = log ? std::log10(low) : low;
        double hi = log ? std::log10(high) : high;
        return pixel_low + (a - lo) / (hi - lo) * (pixel_high - pixel_low);
    }
    bool drawable(double value) const { return std::isfinite(value) && (!log || value > 0); }
};

// The axis range and its ticks: linear ranges start at zero when the data are all positive and
// end on a tick; log ranges end on powers of ten.
scale make_scale(double low, double high, bool log, bool from_zero, std::vector<double>* ticks) {
    scale s;
    s.log = log;
    if (log) {
        s.low = std::pow(10, std::floor(std::log10(low)));
        s.high = std::pow(10, std::ceil(std::log10(high)));
        if (s.high <= s.low) s.high = s.low * 10;
        *ticks = log_ticks(s.low, s.high);
        return s;
    }
    if (from_zero) low = std::min(low, 0.0);
    if (high <= low) high = low + (low == 0 ? 1 : std::fabs(low));
    std::vector<double> all = linear_ticks(low, high, 5);
    double step = all.size() >= 2 ? all[1] - all[0] : high - low;
    s.low = from_zero ? low : std::floor(low / step) * step;
    s.high = std::ceil(high / step - 1e-9) * step;
    if (s.high <= s.low) s.high = s.low + step;
    *ticks = linear_ticks(s.low, s.high, 5);
    return s;
}

std::string text(double x, double y, const std::string& content, const char* anchor,
                 const char* extra = "") {
    return "<text x=\"" + coordinate(x) + "\" y=\"" + coordinate(y) + "\" text-anchor=\"" + anchor +
           "\"" + extra + ">" + html_escape(content) + "</text>";
}

std::string line(double x1, double y1, double x2, double y2, const char* style) {
    return "<line x1=\"" + coordinate(x1) + "\" y1=\"" + coordinate(y1) + "\" x2=\"" +
           coordinate(x2) + "\" y2=\"" + coordinate(y2) + "\" " + style + "/>";
}

// Frame, grid, ticks and axis titles around the plot area [x.pixel_low, x.pixel_high] x
// [y.pixel_high, y.pixel_low].
std::string axes(const scale& x, const std::vector<double>& x_ticks, value_format x_format,
                 const scale& y, const std::vector<double>& y_ticks, value_format y_format,
                 const std::string& x_label, const std::string& y_label) {
    std::string out;
    for (double tick : y_ticks) {
        double py = y(tick);
        out += line(x.pixel_low, py, x.pixel_high, py, "class=\"grid\"");
        out += text(x.pixel_low - 6, py + 4, format_value(tick, y_format), "end");
    }
    for (double tick : x_ticks) {
        double px = x(tick);
        out += line(px, y.pixel_low, px, y.pixel_low + 5, "class=\"axis\"");
        // A label centred on a tick at the right edge would stick out of the chart (measured
        // fonts run wider than the estimate): it ends at its tick there instead.
        std::string label = format_value(tick, x_format);
        double wide = static_cast<double>(label.size()) * char_width;  // twice what centring needs
        out += text(px, y.pixel_low + 18, label, px + wide > width ? "end" : "middle");
    }
    out += line(x.pixel_low, y.pixel_low, x.pixel_high, y.pixel_low, "class=\"axis\"");
    out += line(x.pixel_low, y.pixel_low, x.pixel_low, y.pixel_high, "class=\"axis\"");
    out +=
        text((x.pixel_low + x.pixel_high) / 2, height - 10, x_label, "middle", " class=\"label\"");
    double middle = (y.pixel_low + y.pixel_high) / 2;
    out += "<text class=\"label\" text-anchor=\"middle\" transform=\"translate(16 " +
           coordinate(middle) + ") rotate(-90)\">" + html_escape(y_label) + "</text>";
    return out;
}

std::string svg_open(const std::string& title) {
    // No xmlns: inside HTML the parser puts <svg> in the SVG namespace, and the file then holds
    // no URL at all.
    return "<svg viewBox=\"0 0 " + coordinate(width) + " " + coordinate(height) +
           "\" role=\"img\" class=\"chart\"><title>" + html_escape(title) + "</title>";
}

// Legend items left to right, wrapping; returns the rows used.
int legend(const std::vector<chart_series>& series, std::string* out) {
    double x = margin_left, y = 14;
    int rows = 1;
    for (const chart_series& s : series) {
        double item = 26 + static_cast<double>(s.name.size()) * char_width + 18;
        if (x + item > width - margin_right && x > margin_left) {
            x = margin_left;
            y += legend_row;
            ++rows;
        }
        std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
        *out += "<line x1=\"" + coordinate(x) + "\" y1=\"" + coordinate(y - 4) + "\" x2=\"" +
                coordinate(x + 20) + "\" y2=\"" + coordinate(y - 4) + "\" stroke=\"" +
                color(s.color) + "\" stroke-width=\"2.5\"" + dash + "/>";
        *out += text(x + 26, y, s.name, "start");
        x += item;
    }
    return rows;
}

}  // namespace

std::string format_value(double value, value_format format) {
    if (!std::isfinite(value)) return "n/a";
    double magnitude = std::fabs(value);
    switch (format) {
        case value_format::plain:
            return significant(value);
        case value_format::count:
            if (magnitude >= 999.5e3) return significant(value / 1e6) + "M";
            if (magnitude >= 999.5) return significant(value / 1e3) + "k";
            return significant(value);
        case value_format::microseconds:
            if (magnitude >= 999.5e3) return significant(value / 1e6) + " s";
            if (magnitude >= 999.5) return significant(value / 1e3) + " ms";
            return significant(value) + " \u00b5s";
        case value_format::seconds:
            return significant(value) + " s";
        case value_format::percent:
            return significant(value) + " %";
    }
    return significant(value);
}

std::string html_escape(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (char c : in) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::vector<double> linear_ticks(double low, double high, int target) {
    std::vector<double> ticks;
    if (!std::isfinite(low) || !std::isfinite(high) || high <= low || target < 1) return ticks;
    double raw = (high - low) / target;
    double magnitude = std::pow(10, std::floor(std::log10(raw)));
    double step = magnitude;  // the 1-2-5 step nearest to raw (on a log scale)
    for (double factor : {2.0, 5.0, 10.0}) {
        if (std::fabs(std::log(factor * magnitude / raw)) < std::fabs(std::log(step / raw)))
            step = factor * magnitude;
    }
    for (double k = std::ceil(low / step - 1e-9); k * step <= high + step * 1e-9; k += 1) {
        double tick = k * step;
        ticks.push_back(std::fabs(tick) < step * 1e-9 ? 0 : tick);
    }
    return ticks;
}

std::vector<double> log_ticks(double low, double high) {
    std::vector<double> ticks;
    if (!(low > 0) || !std::isfinite(high) || high < low) return ticks;
    int first = static_cast<int>(std::floor(std::log10(low)));
    int last = static_cast<int>(std::ceil(std::log10(high)));
    const std::vector<double> steps =
        last - first <= 2 ? std::vector<double>{1, 2, 5} : std::vector<double>{1};
    for (int decade = first; decade <= last; ++decade) {
        for (double step : steps) {
            double tick = step * std::pow(10, decade);
            if (tick >= low * 0.999 && tick <= high * 1.001) ticks.push_back(tick);
        }
    }
    return ticks;
}

std::string svg_line_chart(const line_chart& chart) {
    double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
    for (const chart_series& s : chart.series) {
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            if ((chart.x_log && !(s.x[i] > 0)) || (chart.y_log && !(s.y[i] > 0))) continue;
            x_low = std::min(x_low, s.x[i]);
            x_high = std::max(x_high, s.x[i]);
            y_low = std::min(y_low, s.y[i]);
            y_high = std::max(y_high, s.y[i]);
        }
    }
    if (!std::isfinite(x_low)) return "";
    if (std::isfinite(chart.x_min)) x_low = std::min(x_low, chart.x_min);
    if (std::isfinite(chart.x_max)) x_high = std::max(x_high, chart.x_max);
    std::string body;
    int rows = legend(chart.series, &body);
    double top = 14 + rows * legend_row;
    std::vector<double> x_ticks, y_ticks;
    scale x = make_scale(x_low, x_high, chart.x_log, x_low >= 0 && x_low <= x_high * 0.2, &x_ticks);
    if (chart.x_whole) std::erase_if(x_ticks, [](double tick) { return tick != std::floor(tick); });
    x.pixel_low = margin_left;
    x.pixel_high = width - margin_right;
    scale y = make_scale(y_low, y_high, chart.y_log, true, &y_ticks);
    y.pixel_low = height - margin_bottom;
    y.pixel_high = top;
    std::string out = svg_open(chart.title);
    out +=
        axes(x, x_ticks, chart.x_format, y, y_ticks, chart.y_format, chart.x_label, chart.y_label);
    out += body;
    for (const chart_series& s : chart.series) {
        std::string path, dots;
        bool pen_down = false;
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!x.drawable(s.x[i]) || !y.drawable(s.y[i])) {
                pen_down = false;
                continue;
            }
            double px = x(s.x[i]), py = y(s.y[i]);
            path += (pen_down ? " L" : " M") + coordinate(px) + " " + coordinate(py);
            pen_down = true;
            if (s.markers)
                dots += "<circle cx=\"" + coordinate(px) + "\" cy=\"" + coordinate(py) +
                        "\" r=\"3.5\" fill=\"" + color(s.color) + "\"><title>" +
                        html_escape(s.name + " at " + format_value(s.x[i], chart.x_format) + ": " +
                                    format_value(s.y[i], chart.y_format)) +
                        "</title></circle>";
        }
        std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
        out += "<path d=\"" + path.substr(1) + "\" fill=\"none\" stroke=\"" + color(s.color) +
               "\" stroke-width=\"2\" stroke-linejoin=\"round\"" + dash + "><title>" +
               html_escape(s.name) + "</title></path>" + dots;
    }
    return out + "</svg>";
}

std::string svg_bar_chart(const bar_chart& chart) {
    size_t bars = std::min(chart.heights.size(), chart.edges.size() ? chart.edges.size() - 1 : 0);
    double y_high = 0;
    for (size_t i = 0; i < bars; ++i)
        if (std::isfinite(chart.heights[i])) y_high = std::max(y_high, chart.heights[i]);
    bool edges_ok = bars > 0 && std::isfinite(chart.edges.front()) &&
                    std::isfinite(chart.edges[bars]) && chart.edges[bars] > chart.edges.front() &&
                    (!chart.x_log || chart.edges.front() > 0);
    if (!(y_high > 0) || !edges_ok) return "";
    double top = 14 + legend_row;
    std::vector<double> x_ticks, y_ticks;
    scale x = make_scale(chart.edges.front(), chart.edges[bars], chart.x_log, false, &x_ticks);
    if (!chart.x_log) {
        x.low = chart.edges.front();
        x.high = chart.edges[bars];
        x_ticks = linear_ticks(x.low, x.high, 8);
    }
    x.pixel_low = margin_left;
    x.pixel_high = width - margin_right;
    scale y = make_scale(0, y_high, false, true, &y_ticks);
    y.pixel_low = height - margin_bottom;
    y.pixel_high = top;
    std::string out = svg_open(chart.title);
    for (size_t i = 0; i < bars; ++i) {
        double h = chart.heights[i];
        if (!std::isfinite(h) || !(h > 0)) continue;
        double left = x(chart.edges[i]), right = x(chart.edges[i + 1]);
        double bar_width = std::max(1.0, right - left - 1);
        out += "<rect x=\"" + coordinate(left) + "\" y=\"" + coordinate(y(h)) + "\" width=\"" +
               coordinate(bar_width) + "\" height=\"" + coordinate(y.pixel_low - y(h)) +
               "\" fill=\"" + color(0) + "\"><title>" +
               html_escape(format_value(chart.edges[i], chart.x_format) + " to " +
                           format_value(chart.edges[i + 1], chart.x_format) + ": " +
                           format_value(h, chart.y_format)) +
               "</title></rect>";
    }
    out +=
        axes(x, x_ticks, chart.x_format, y, y_ticks, chart.y_format, chart.x_label, chart.y_label);
    double last_label_end = -INFINITY;
    int row = 0;
    for (const auto& [name, value] : chart.markers) {
        if (!x.drawable(value) || value < x.low || value > x.high) continue;
        double px = x(value);
        out += line(px, y.pixel_low, px, top - 4, "class=\"marker\"");
        std::string label = name + " " + format_value(value, chart.x_format);
        double label_width = static_cast<double>(label.size()) * char_width;
        bool right_side = px + 4 + label_width <= width - margin_right;
        double start = right_side ? px + 4 : px - 4 - label_width;
        row = start < last_label_end + 6 ? row + 1 : 0;  // stagger labels that would touch
        last_label_end = start + label_width;
        out += text(right_side ? px + 4 : px - 4, top + 8 + row * 14, label,
                    right_side ? "start" : "end", " class=\"marker-label\"");
    }
    return out + "</svg>";
}

}  // namespace chorus::bench
