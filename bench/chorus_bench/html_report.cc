// The run report page: the summary table, then one section per question people ask of a run
// (how fast, how spread out, how much got through, what did it cost, where did the server spend
// its time), each a chart or, where the run has no such data, a note that says why.
#include "bench/chorus_bench/html_report.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "bench/chorus_bench/svg_chart.h"

namespace chorus::bench {
namespace {

constexpr const char* stylesheet =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;"
    "background:#fff;max-width:1000px;margin:0 auto;padding:24px}"
    "h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:28px 0 4px}"
    ".meta{color:#555;margin:2px 0}code{font:12px ui-monospace,monospace;background:#f3f4f6;"
    "padding:2px 4px;border-radius:3px;word-break:break-all}"
    ".pass{color:#1a7f37}.fail{color:#c62828}"
    "table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 12px 4px 0;text-align:left;"
    "vertical-align:top}th,td.num{white-space:nowrap}th{font-weight:600;color:#333}td.num{text-"
    "align:right;"
    "font-variant-numeric:tabular-nums}tr+tr td{border-top:1px solid #eee}"
    ".explain{color:#555;margin:2px 0 8px}.note{border-left:4px solid #bbb;background:#f7f7f7;"
    "padding:10px 14px;color:#444}"
    "svg.chart{width:100%;min-width:640px;height:auto;font:12px system-ui,sans-serif;fill:#333}"
    ".scroll{overflow-x:auto}"
    "svg .grid{stroke:#e3e3e3}svg .axis{stroke:#666}svg .label{font-weight:600}"
    "svg .marker{stroke:#333;stroke-dasharray:3 3}svg .marker-label{font-weight:600;"
    "paint-order:stroke;stroke:#fff;stroke-width:4px}th.num{text-align:right}";

std::string number(const char* pattern, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), pattern, std::isfinite(value) ? value : 0.0);
    return buffer;
}

std::string count(uint64_t value) {
    return std::to_string(value);
}

std::string row(const std::string& name, const std::string& value) {
    return "<tr><th>" + html_escape(name) + "</th><td>" + html_escape(value) + "</td></tr>";
}

std::string latency_text(const latency_summary& s) {
    auto us = [](double v) { return format_value(v, value_format::microseconds); };
    return "p50 " + us(s.p50) + ", p90 " + us(s.p90) + ", p99 " + us(s.p99) + ", p99.9 " +
           us(s.p999) + ", max " + us(s.max);
}

std::string summary(const report& r) {
    std::string t = "<table>";
    t += row("connections", count(r.joined) + " of " + count(r.connections) + " joined (" +
                                count(r.failed) + " failed, " + count(r.closed_early) +
                                " closed early)");
    t += row("measured window", number("%.2f s", r.window_seconds));
    if (r.sent > 0 || r.expected > 0) {
        t += row("frames sent",
                 count(r.sent) + " (" + format_value(r.sent_per_sec, value_format::count) + "/s)");
        t += row("deliveries expected / received", count(r.expected + r.control_expected) + " / " +
                                                       count(r.received + r.control_received));
        t += row("deliveries per second", format_value(r.deliveries_per_sec, value_format::count));
        t += row("loss", number("%.4f %%", r.loss * 100) + " (sequence gaps " + count(r.gaps) +
                             ", reordered or duplicated " + count(r.reorders) + ")");
        t += row("end-to-end latency", latency_text(r.latency_us));
    }
    if (r.handshake_us.count > 0) t += row("handshake latency", latency_text(r.handshake_us));
    double window = r.window_seconds > 0 ? r.window_seconds : 1;
    t += row("bench CPU", number("%.2f s", r.bench_cpu_seconds) + " (" +
                              number("%.0f %%", r.bench_cpu_seconds / window * 100) +
                              " of one core over the window)");
    if (r.has_server) {
        t += row("server CPU", number("%.2f s", r.server_cpu_seconds) + " (" +
                                   number("%.0f %%", r.server_cpu_seconds / window * 100) +
                                   " of one core over the window)");
        if (r.deliveries_per_cpu_second > 0)
            t += row("deliveries per server CPU-second",
                     format_value(r.deliveries_per_cpu_second, value_format::count));
        t += row("server peak RSS", number("%.1f MiB", r.server_peak_rss_bytes / 1048576.0));
    }
    if (!r.first_error.empty()) t += row("first error", r.first_error);
    return t + "</table>";
}

std::vector<double> bucket_midpoints(const timeline& series, uint32_t buckets) {
    std::vector<double> x;
    double width = static_cast<double>(series.bucket_ns()) / 1e9;
    for (uint32_t b = 0; b < buckets; ++b) x.push_back((b + 0.5) * width);
    return x;
}

std::string percentiles_over_time(const timeline* series, const report& r) {
    if (!series || !series->started()) return "";
    uint32_t buckets = series->used_bucket_count();
    line_chart chart{"End-to-end latency percentiles per time bucket",
                     "time since sending started (s)", "latency (log scale)", value_format::seconds,
                     value_format::microseconds};
    chart.y_log = true;
    chart.x_min = 0;
    chart.x_max = r.duration_seconds;
    std::vector<double> x = bucket_midpoints(*series, buckets);
    const std::pair<const char*, double> quantiles[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}};
    int color = 0;
    for (const auto& [name, q] : quantiles) {
        chart_series s{name, x, {}, color == 0 ? 2 : color == 1 ? 4 : 1};
        for (uint32_t b = 0; b < buckets; ++b)
            s.y.push_back(series->latency_count(b)
                              ? static_cast<double>(series->latency_percentile_ns(b, q)) / 1e3
                              : NAN);
        chart.series.push_back(s);
        ++color;
    }
    chart_series max{"max", x, {}, 5, true};
    for (uint32_t b = 0; b < buckets; ++b)
        max.y.push_back(
            series->latency_count(b) ? static_cast<double>(series->latency_max_ns(b)) / 1e3 : NAN);
    chart.series.push_back(max);
    return svg_line_chart(chart);
}

// Ten bars per decade from the smallest to the largest latency, as shares of all deliveries.
std::string latency_distribution(const base::histogram* latency, const report& r) {
    if (!latency || latency->count() == 0) return "";
    constexpr double tenth_of_decade = 1.2589254117941673;  // 10^0.1
    double edge = std::pow(10, std::floor(std::log10(std::max<double>(1, latency->min()))));
    bar_chart chart{"Distribution of end-to-end latency", "latency (log scale)",
                    "share of deliveries", value_format::microseconds, value_format::percent};
    chart.x_log = true;
    chart.edges.push_back(edge / 1e3);
    double total = static_cast<double>(latency->count());
    uint64_t previous = 0;
    for (int bar = 0; bar < 400 && previous < latency->count(); ++bar) {
        edge *= tenth_of_decade;
        uint64_t at_or_below = latency->count_at_or_below(static_cast<uint64_t>(edge));
        chart.edges.push_back(edge / 1e3);
        chart.heights.push_back(static_cast<double>(at_or_below - previous) / total * 100);
        previous = at_or_below;
    }
    chart.markers = {{"p50", r.latency_us.p50}, {"p99", r.latency_us.p99}};
    return svg_bar_chart(chart);
}

// Rates per second over the buckets that lie within the sending time (the drain's stragglers
// would make the last bucket look like a collapse).
std::string deliveries_over_time(const timeline* series, const report& r) {
    if (!series || !series->started()) return "";
    double width = static_cast<double>(series->bucket_ns()) / 1e9;
    uint32_t buckets = series->used_bucket_count();
    while (buckets > 1 && (buckets - 1) * width >= r.duration_seconds - 1e-9) --buckets;
    line_chart chart{"Deliveries per second", "time since sending started (s)",
                     "deliveries per second", value_format::seconds, value_format::count};
    chart.x_min = 0;
    chart.x_max = r.duration_seconds;
    std::vector<double> x = bucket_midpoints(*series, buckets);
    chart_series received{"received", x, {}, 0}, expected{"expected", x, {}, 5, true};
    for (uint32_t b = 0; b < buckets; ++b) {
        received.y.push_back(static_cast<double>(series->counters(b).received) / width);
        expected.y.push_back(static_cast<double>(series->counters(b).expected) / width);
    }
    chart.series = {received, expected};
    return svg_line_chart(chart);
}

std::string loss_section(const timeline* series, const report& r) {
    uint64_t expected = r.expected + r.control_expected;
    uint64_t received = r.received + r.control_received;
    std::string text = "Loss over the run: " + number("%.4f %%", r.loss * 100) + " (" +
                       count(expected > received ? expected - received : 0) + " of " +
                       count(expected) + " expected deliveries missing), " + count(r.reorders) +
                       " reordered or duplicated.";
    std::string chart;
    if (series && series->started() && r.gaps > 0) {
        uint32_t buckets = series->used_bucket_count();
        double width = static_cast<double>(series->bucket_ns()) / 1e9;
        line_chart c{"Missing deliveries per second", "time since sending started (s)",
                     "missing deliveries per second", value_format::seconds, value_format::count};
        chart_series gaps{
            "sequence gaps seen by receivers", bucket_midpoints(*series, buckets), {}, 1};
        for (uint32_t b = 0; b < buckets; ++b)
            gaps.y.push_back(static_cast<double>(series->counters(b).gaps) / width);
        c.x_min = 0;
        c.series = {gaps};
        chart = svg_line_chart(c);
    }
    std::string note = expected == 0 ? "This scenario expects no deliveries, so it has no loss."
                       : r.gaps == 0 ? text +
                                           " No receiver saw a gap in any sequence, so there "
                                           "is nothing to draw over time."
                                     : text;
    return html_section("Loss", chart.empty() ? "" : text, chart, note);
}

}  // namespace

std::string html_document(const std::string& title, const std::string& body) {
    return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'\">"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>" +
           html_escape(title) + "</title><style>" + stylesheet + "</style></head><body>\n" + body +
           "\n</body></html>\n";
}

std::string html_section(const std::string& title, const std::string& explanation,
                         const std::string& content, const std::string& note) {
    std::string out = "<section><h2>" + html_escape(title) + "</h2>";
    if (!content.empty()) {
        if (!explanation.empty())
            out += "<p class=\"explain\">" + html_escape(explanation) + "</p>";
        out += "<div class=\"scroll\">" + content + "</div>";
    } else {
        out += "<p class=\"note\">" + html_escape(note) + "</p>";
    }
    return out + "</section>\n";
}

std::string html_report(const report& r, const run_trace& trace) {
    std::string body = "<h1>chorus-bench " + html_escape(r.scenario) + ": <span class=\"" +
                       (r.passed ? "pass\">PASS" : "fail\">FAIL") + "</span></h1>";
    if (!r.passed) body += "<p class=\"meta fail\">" + html_escape(r.verdict) + "</p>";
    body += "<p class=\"meta\">" +
            html_escape(r.protocol + " protocol, " + std::to_string(r.threads) +
                        " bench thread(s), " + (r.backend.empty() ? "no" : r.backend) +
                        " loop; generated " + trace.generated_at) +
            "</p>";
    if (!r.command.empty())
        body += "<p class=\"meta\"><code>" + html_escape(r.command) + "</code></p>";
    body += html_section("Summary", "", summary(r), "");
    bool measures_latency = r.latency_us.count > 0;
    std::string no_latency = measures_latency
                                 ? "The per-second series were not recorded for this run."
                                 : "This run measured no end-to-end latency (the " + r.scenario +
                                       " scenario sends no timestamped frames, or none arrived).";
    body += html_section("Latency over time",
                         "Each point is one time bucket of deliveries, by the time they arrived.",
                         percentiles_over_time(trace.series, r), no_latency);
    body += html_section("Latency distribution",
                         "Bars are a tenth of a decade wide; the lines mark the run's p50 and p99.",
                         latency_distribution(trace.latency_ns, r),
                         measures_latency ? "No latency histogram was kept." : no_latency);
    body += html_section(
        "Deliveries per second", "Frames received per second against those the senders made due.",
        deliveries_over_time(trace.series, r), "This run made no deliveries to count over time.");
    body += loss_section(trace.series, r);
    body += cpu_section(trace);
    body += stages_section(r);
    return html_document("chorus-bench " + r.scenario + " report", body);
}

bool write_text_file(const std::string& path, const std::string& text, std::string* error) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (!file) {
        *error = "cannot write " + path + ": " + std::strerror(errno);
        return false;
    }
    bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok) *error = "cannot write " + path + " (disk full?)";
    return ok;
}

std::string utc_now_text() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char buffer[40];
    std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S UTC", &utc);
    return buffer;
}

}  // namespace chorus::bench
