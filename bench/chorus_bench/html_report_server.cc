// The report's cost sections: CPU over time (the bench's own, and the server's from /proc when
// --server-pid is given) and the server's stage histograms from two /metrics scrapes.
#include <cmath>
#include <cstdio>

#include "bench/chorus_bench/html_report.h"
#include "bench/chorus_bench/svg_chart.h"

namespace chorus::bench {
namespace {

struct stage_row {
    const char* name;
    const char* meaning;
    const prom_histogram* histogram;
};

std::string cell(const std::string& text, bool numeric = false) {
    return std::string(numeric ? "<td class=\"num\">" : "<td>") + html_escape(text) + "</td>";
}

std::string quantile_text(const prom_histogram& h, double q) {
    double seconds = h.quantile(q);
    if (std::isfinite(seconds))
        return "\u2264 " + format_value(seconds * 1e6, value_format::microseconds);
    double last = h.bounds.size() >= 2 ? h.bounds[h.bounds.size() - 2] : 0;
    return "> " + format_value(last * 1e6, value_format::microseconds);
}

// Share of samples at or below each finite bucket bound: one line per stage.
std::string stages_chart(const std::vector<stage_row>& stages) {
    line_chart chart{"Server stages: share of samples at or below each latency",
                     "latency (log scale)", "samples at or below (%)", value_format::microseconds,
                     value_format::percent};
    chart.x_log = true;
    int color = 0;
    for (const stage_row& stage : stages) {
        const prom_histogram& h = *stage.histogram;
        chart_series s{stage.name, {}, {}, color++, false, true};
        if (h.count == 0) continue;
        for (size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
            if (!std::isfinite(h.bounds[i]) || !(h.bounds[i] > 0)) continue;
            s.x.push_back(h.bounds[i] * 1e6);
            s.y.push_back(static_cast<double>(h.cumulative[i]) / static_cast<double>(h.count) *
                          100);
        }
        chart.series.push_back(s);
    }
    return svg_line_chart(chart);
}

// The last sample closes the window a moment after the one before it: a rate over so short an
// interval is mostly the 10 ms tick rounding, so it replaces its predecessor instead.
std::vector<cpu_sample> merged_samples(const std::vector<cpu_sample>& cpu) {
    std::vector<cpu_sample> out = cpu;
    if (out.size() >= 3) {
        double typical = out[1].seconds - out[0].seconds;
        double last = out.back().seconds - out[out.size() - 2].seconds;
        if (last < typical / 2) out.erase(out.end() - 2);
    }
    return out;
}

}  // namespace

std::string cpu_section(const run_trace& trace) {
    line_chart chart{"CPU use over time", "time since sending started (s)", "CPU (% of one core)",
                     value_format::seconds, value_format::percent};
    chart.x_min = 0;
    chart_series server{"server", {}, {}, 1}, bench{"bench (load generator)", {}, {}, 0, true};
    std::vector<cpu_sample> samples = merged_samples(trace.cpu);
    for (size_t i = 1; i < samples.size(); ++i) {
        const cpu_sample& a = samples[i - 1];
        const cpu_sample& b = samples[i];
        double seconds = b.seconds - a.seconds;
        if (!(seconds > 0)) continue;
        double middle = (a.seconds + b.seconds) / 2;
        server.x.push_back(middle);
        server.y.push_back((b.server_cpu_seconds - a.server_cpu_seconds) / seconds * 100);
        bench.x.push_back(middle);
        bench.y.push_back((b.bench_cpu_seconds - a.bench_cpu_seconds) / seconds * 100);
    }
    if (trace.server_sampled) chart.series.push_back(server);
    chart.series.push_back(bench);
    std::string svg = svg_line_chart(chart);
    std::string explanation =
        "Share of one core used between samples (about one per time bucket; /proc counts CPU "
        "in 10 ms ticks). A bench line near 100 % means the load generator, not the server, "
        "set the pace.";
    std::string out =
        html_section("CPU", explanation, svg, "The run was too short for two CPU samples.");
    if (!svg.empty() && !trace.server_sampled)
        out += "<p class=\"note\">The server's CPU was not sampled: pass --server-pid PID.</p>\n";
    return out;
}

std::string stages_section(const report& r) {
    if (!r.has_breakdown)
        return html_section("Server stages", "", "",
                            "The server's stage histograms were not read: pass --server-metrics "
                            "with the address of the server's /metrics page.");
    const server_breakdown& b = r.breakdown;
    std::vector<stage_row> stages = {
        {"fan-out", "from reading a frame to queueing its sends", &b.fanout},
        {"loop pass", "one pass of a core's event loop", &b.loop_pass},
        {"ring dwell", "a cross-core record waiting in its ring", &b.ring_dwell},
    };
    std::string table =
        "<table><tr><th>stage</th><th>what it measures</th><th class=\"num\">samples</th>"
        "<th class=\"num\">mean</th><th class=\"num\">p50</th><th class=\"num\">p99</th></tr>";
    for (const stage_row& stage : stages) {
        const prom_histogram& h = *stage.histogram;
        std::string mean = h.count ? format_value(h.sum / static_cast<double>(h.count) * 1e6,
                                                  value_format::microseconds)
                                   : "none";
        table += "<tr>" + cell(stage.name) + cell(stage.meaning) +
                 cell(std::to_string(h.count), true) + cell(mean, true) +
                 cell(h.count ? quantile_text(h, 0.5) : "none", true) +
                 cell(h.count ? quantile_text(h, 0.99) : "none", true) + "</tr>";
    }
    table += "</table>";
    if (b.deliveries > 0) {
        char line[200];
        std::snprintf(line, sizeof(line),
                      "%.0f deliveries in %.0f sends: %.4f sends per delivery; %.0f dropped for "
                      "slow receivers.",
                      b.deliveries, b.sends, b.sends / b.deliveries, b.dropped_slow);
        table += "<p>" + html_escape(line) + "</p>";
    }
    std::string chart = stages_chart(stages);
    if (chart.empty()) chart = "<p class=\"note\">No stage recorded a sample during the run.</p>";
    return html_section("Server stages",
                        "From the server's /metrics histograms, before and after the window. "
                        "Quantiles are bucket bounds: the value lies at or below it.",
                        table + chart, "");
}

}  // namespace chorus::bench
