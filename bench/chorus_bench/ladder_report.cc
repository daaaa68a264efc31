// The ladder page: read each step's --json (simdjson DOM; a missing or mistyped key is an error
// that names the file and the key), sort by load, draw four charts against the load and a table.
#include "bench/chorus_bench/ladder_report.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "bench/chorus_bench/html_report.h"
#include "bench/chorus_bench/svg_chart.h"

namespace chorus::bench {
namespace {

// A number at `key` of `object` (integer or float); false if absent, null or not a number.
bool number_at(simdjson::dom::element object, std::string_view key, double* out) {
    simdjson::dom::element value;
    if (object[key].get(value) != simdjson::SUCCESS) return false;
    double d = 0;
    int64_t i = 0;
    uint64_t u = 0;
    if (value.get(d) == simdjson::SUCCESS)
        *out = d;
    else if (value.get(i) == simdjson::SUCCESS)
        *out = static_cast<double>(i);
    else if (value.get(u) == simdjson::SUCCESS)
        *out = static_cast<double>(u);
    else
        return false;
    return std::isfinite(*out);
}

bool is_room_scenario(const std::string& scenario) {
    return scenario == "rooms" || scenario == "flood" || scenario == "churn";
}

std::string percent_of_core(double cpu_seconds, double window_seconds) {
    if (!(window_seconds > 0)) return "n/a";
    return format_value(cpu_seconds / window_seconds * 100, value_format::percent);
}

std::string cell(const std::string& text, bool numeric = true) {
    return std::string(numeric ? "<td class=\"num\">" : "<td>") + html_escape(text) + "</td>";
}

std::string steps_table(const std::vector<ladder_step>& steps, const std::string& load_name) {
    std::string t = "<table><tr>";
    for (const std::string& name :
         {load_name, std::string("connections"), std::string("deliveries/s"), std::string("p50"),
          std::string("p99"), std::string("max"), std::string("loss"), std::string("server CPU"),
          std::string("bench CPU"), std::string("deliveries per server CPU-s")})
        t += "<th class=\"num\">" + html_escape(name) + "</th>";
    t += "<th>result</th></tr>";
    for (const ladder_step& s : steps) {
        auto us = [](double v) { return format_value(v, value_format::microseconds); };
        t += "<tr>" + cell(format_value(s.load, value_format::plain)) +
             cell(std::to_string(s.connections)) +
             cell(format_value(s.deliveries_per_sec, value_format::count)) + cell(us(s.p50_us)) +
             cell(us(s.p99_us)) + cell(us(s.max_us)) +
             cell(format_value(s.loss * 100, value_format::percent)) +
             cell(s.has_server ? percent_of_core(s.server_cpu_seconds, s.window_seconds) : "n/a") +
             cell(percent_of_core(s.bench_cpu_seconds, s.window_seconds)) +
             cell(s.has_server ? format_value(s.deliveries_per_cpu_second, value_format::count)
                               : "n/a") +
             cell(s.passed ? "pass" : "FAIL: " + s.verdict, false) + "</tr>";
    }
    return t + "</table>";
}

line_chart against_load(const char* title, const std::string& load_name, const char* y_label,
                        value_format y_format) {
    line_chart chart{title, load_name, y_label, value_format::plain, y_format};
    chart.x_whole = true;
    return chart;
}

chart_series series_of(const std::vector<ladder_step>& steps, const char* name, int color,
                       bool dashed, double (*value)(const ladder_step&)) {
    chart_series s{name, {}, {}, color, dashed, true};
    for (const ladder_step& step : steps) {
        s.x.push_back(step.load);
        s.y.push_back(value(step));
    }
    return s;
}

}  // namespace

bool parse_ladder_step(std::string_view json, ladder_step* out, std::string* error) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    if (parser.parse(padded).get(root) != simdjson::SUCCESS || !root.is_object()) {
        *error = "not a chorus-bench --json object";
        return false;
    }
    ladder_step s;
    std::string_view text;
    if (root["scenario"].get(text) != simdjson::SUCCESS) {
        *error = "no \"scenario\" (is this a chorus-bench --json file?)";
        return false;
    }
    s.scenario = std::string(text);
    if (root["command"].get(text) == simdjson::SUCCESS) s.command = std::string(text);
    if (root["verdict"].get(text) == simdjson::SUCCESS) s.verdict = std::string(text);
    bool passed = false;
    if (root["passed"].get(passed) == simdjson::SUCCESS) s.passed = passed;
    double connections = 0, rooms = 0;
    simdjson::dom::element latency, load, server;
    bool ok = number_at(root, "connections", &connections) && number_at(root, "loss", &s.loss) &&
              number_at(root, "deliveries_per_sec", &s.deliveries_per_sec) &&
              number_at(root, "window_seconds", &s.window_seconds) &&
              number_at(root, "bench_cpu_seconds", &s.bench_cpu_seconds) &&
              root["latency_us"].get(latency) == simdjson::SUCCESS &&
              number_at(latency, "p50", &s.p50_us) && number_at(latency, "p99", &s.p99_us) &&
              number_at(latency, "max", &s.max_us);
    if (!ok) {
        *error =
            "missing or non-numeric counters or latency_us (written by an older "
            "chorus-bench?)";
        return false;
    }
    s.connections = static_cast<uint64_t>(connections);
    bool has_rooms =
        root["load"].get(load) == simdjson::SUCCESS && number_at(load, "rooms", &rooms);
    if (is_room_scenario(s.scenario) && !has_rooms) {
        *error = "no load.rooms (written by a chorus-bench before --report?)";
        return false;
    }
    s.load = is_room_scenario(s.scenario) ? rooms : connections;
    if (root["server"].get(server) == simdjson::SUCCESS) {
        s.has_server = number_at(server, "cpu_seconds", &s.server_cpu_seconds) &&
                       number_at(server, "deliveries_per_cpu_second", &s.deliveries_per_cpu_second);
    }
    *out = s;
    return true;
}

std::string ladder_html(std::vector<ladder_step> steps, const std::string& generated_at,
                        const std::string& subtitle) {
    std::stable_sort(steps.begin(), steps.end(),
                     [](const ladder_step& a, const ladder_step& b) { return a.load < b.load; });
    std::string scenario = steps.empty() ? "?" : steps.front().scenario;
    std::string load_name = is_room_scenario(scenario) ? "rooms" : "connections";
    std::string body = "<h1>chorus-bench ladder: " + html_escape(scenario) + ", " +
                       std::to_string(steps.size()) + " steps</h1><p class=\"meta\">generated " +
                       html_escape(generated_at) + "</p>";
    if (!subtitle.empty()) body += "<p class=\"meta\">" + html_escape(subtitle) + "</p>";
    if (!steps.empty() && !steps.front().command.empty())
        body += "<p class=\"meta\">first step: <code>" + html_escape(steps.front().command) +
                "</code></p>";
    line_chart latency = against_load("Latency against load", load_name,
                                      "end-to-end latency (log scale)", value_format::microseconds);
    latency.y_log = true;
    latency.series = {
        series_of(steps, "p50", 2, false, [](const ladder_step& s) { return s.p50_us; }),
        series_of(steps, "p99", 1, false, [](const ladder_step& s) { return s.p99_us; }),
        series_of(steps, "max", 5, true, [](const ladder_step& s) { return s.max_us; })};
    body += html_section("Latency", "One point per step: the step's whole-run percentiles.",
                         svg_line_chart(latency), "No step measured latency.");
    bool any_server =
        std::any_of(steps.begin(), steps.end(), [](const ladder_step& s) { return s.has_server; });
    line_chart cost = against_load("Deliveries per server CPU-second against load", load_name,
                                   "deliveries per server CPU-second", value_format::count);
    chart_series per_cpu = series_of(
        steps, "deliveries per server CPU-second", 0, false,
        [](const ladder_step& s) { return s.has_server ? s.deliveries_per_cpu_second : NAN; });
    cost.series = {per_cpu};
    body += html_section("Server cost",
                         "Higher is cheaper: deliveries made per second of server "
                         "CPU over the measured window.",
                         any_server ? svg_line_chart(cost) : "",
                         "No step sampled the server: run each step with --server-pid PID.");
    line_chart loss = against_load("Loss against load", load_name,
                                   "expected deliveries missing (%)", value_format::percent);
    loss.series = {
        series_of(steps, "loss", 1, false, [](const ladder_step& s) { return s.loss * 100; })};
    body += html_section("Loss", "", svg_line_chart(loss), "No step to draw.");
    line_chart cpu =
        against_load("CPU against load", load_name, "CPU (% of one core)", value_format::percent);
    if (any_server)
        cpu.series.push_back(series_of(steps, "server", 1, false, [](const ladder_step& s) {
            return s.has_server && s.window_seconds > 0
                       ? s.server_cpu_seconds / s.window_seconds * 100
                       : NAN;
        }));
    cpu.series.push_back(
        series_of(steps, "bench (load generator)", 0, true, [](const ladder_step& s) {
            return s.window_seconds > 0 ? s.bench_cpu_seconds / s.window_seconds * 100 : NAN;
        }));
    body += html_section("CPU",
                         "Over each step's measured window. Where the bench line nears "
                         "100 %, the load generator is saturated and the steps above it "
                         "measure the bench, not the server; where both stay low while "
                         "latency climbs, other work on the machine had the cores.",
                         svg_line_chart(cpu), "No step to draw.");
    body += html_section("Steps", "", steps_table(steps, load_name), "");
    return html_document("chorus-bench ladder: " + scenario, body);
}

int ladder_report_main(const std::vector<std::string>& args) {
    std::string report_path, title;
    std::vector<std::string> files;
    for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--report" && i + 1 < args.size()) {
            report_path = args[++i];
        } else if (args[i].rfind("--report=", 0) == 0) {
            report_path = args[i].substr(9);
        } else if (args[i] == "--title" && i + 1 < args.size()) {
            title = args[++i];
        } else if (args[i].rfind("--", 0) == 0) {
            std::fprintf(stderr, "chorus-bench ladder-report: unknown flag %s\n", args[i].c_str());
            return 2;
        } else {
            files.push_back(args[i]);
        }
    }
    if (report_path.empty() || files.empty()) {
        std::fprintf(stderr,
                     "usage: chorus-bench ladder-report STEP.json... --report FILE.html "
                     "[--title TEXT]\n");
        return 2;
    }
    std::vector<ladder_step> steps;
    for (const std::string& file : files) {
        std::ifstream in(file);
        std::stringstream content;
        content << in.rdbuf();
        ladder_step step;
        std::string error;
        bool opened = in.is_open();
        if (!opened || !parse_ladder_step(content.str(), &step, &error)) {
            std::fprintf(stderr, "chorus-bench ladder-report: %s: %s\n", file.c_str(),
                         opened ? error.c_str() : "cannot read it");
            return 2;
        }
        step.file = file;
        steps.push_back(step);
    }
    std::string error;
    if (!write_text_file(report_path, ladder_html(steps, utc_now_text(), title), &error)) {
        std::fprintf(stderr, "chorus-bench ladder-report: %s\n", error.c_str());
        return 2;
    }
    return 0;
}

}  // namespace chorus::bench
