// Unit tests for the HTML pages chorus-bench writes (--report and ladder-report): one document,
// self-contained (no script, no URL, a CSP that forbids fetching), every text escaped, the
// run's numbers present, never NaN or infinity, and a note instead of an empty chart where the
// run has no such data.
// GCC 12 at -O1 with the sanitizers (make test-sanitize) warns maybe-uninitialized inside
// libstdc++'s <regex> automaton, a false positive in the library; none of this file's own code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "bench/chorus_bench/html_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <regex>

#include "bench/chorus_bench/ladder_report.h"

namespace chorus::bench {
namespace {

constexpr uint64_t s = 1'000'000'000;
constexpr uint64_t origin = 500 * s;

size_t occurrences(const std::string& text, const std::string& what) {
    size_t count = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++count;
    return count;
}

// What every page must be: one well-formed, self-contained, finite document.
void expect_self_contained(const std::string& html) {
    EXPECT_EQ(html.rfind("<!doctype html>\n<html lang=\"en\">", 0), 0u);
    EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
    EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"),
              std::string::npos);
    for (const char* forbidden : {"<script", "src=", "href=", "url(", "@import", "http://",
                                  "https://", "<link", "<img", "<iframe"})
        EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
    static const std::regex non_finite("\\b(nan|inf|infinity)\\b", std::regex::icase);
    EXPECT_FALSE(std::regex_search(html, non_finite));
    for (const char* tag : {"svg", "section", "table", "p", "h2", "code", "title"})
        EXPECT_EQ(occurrences(html, std::string("<") + tag + ">") +
                      occurrences(html, std::string("<") + tag + " "),
                  occurrences(html, std::string("</") + tag + ">"))
            << tag;
}

report sample_report() {
    report r;
    r.scenario = "rooms";
    r.protocol = "chorus";
    r.backend = "uring";
    r.connections = r.joined = 200;
    r.sent = 5000;
    r.expected = r.received = 95000;
    r.window_seconds = 5;
    r.duration_seconds = 5;
    r.deliveries_per_sec = 19000;
    r.sent_per_sec = 1000;
    r.latency_us = {95000, 133, 188, 298, 1151, 3987};
    r.handshake_us = {200, 195, 248, 429, 1282, 1284};
    r.bench_cpu_seconds = 0.48;
    r.command = "chorus-bench rooms --run-id <x&y> --rooms 10";
    r.passed = true;
    r.verdict = "ok";
    return r;
}

struct sample_trace {
    timeline series;
    std::unique_ptr<base::histogram> latency = std::make_unique<base::histogram>();
    run_trace trace;
    sample_trace() {
        series.reset(6 * s);
        series.start(origin);
        for (uint64_t second = 0; second < 5; ++second) {
            for (int i = 0; i < 100; ++i) {
                uint64_t ns = 100'000 + static_cast<uint64_t>(i) * 2'000 + second * 10'000;
                series.record_latency(origin + second * s + 1000, ns);
                latency->record(ns);
            }
            series.record_counters(
                origin + second * s + s / 2,
                {(second + 1) * 1000, (second + 1) * 19000, (second + 1) * 19000, 0});
        }
        trace = run_trace{&series, latency.get(), {}, true, "2026-12-07 16:00:00 UTC"};
        for (int i = 0; i <= 5; ++i)
            trace.cpu.push_back({static_cast<double>(i), 0.06 * i, 0.1 * i});
    }
};

TEST(HtmlReport, RunPageHasEveryChartAndItsNumbers) {
    report r = sample_report();
    r.has_server = true;
    r.server_cpu_seconds = 0.29;
    r.deliveries_per_cpu_second = 327586;
    r.server_peak_rss_bytes = 16 << 20;
    sample_trace t;
    std::string html = html_report(r, t.trace);
    expect_self_contained(html);
    EXPECT_EQ(occurrences(html, "<svg "), 4u);  // percentiles, distribution, rate, CPU
    EXPECT_NE(html.find("p99 298 \u00b5s"), std::string::npos);
    EXPECT_NE(html.find("95000 / 95000"), std::string::npos);
    EXPECT_NE(html.find("328k"), std::string::npos);
    EXPECT_NE(html.find("16.0 MiB"), std::string::npos);
    EXPECT_NE(html.find(">PASS<"), std::string::npos);
    EXPECT_NE(html.find("--run-id &lt;x&amp;y&gt;"), std::string::npos);
    EXPECT_EQ(html.find("<x&y>"), std::string::npos);
    EXPECT_NE(html.find(">server<"), std::string::npos);  // CPU legend
    EXPECT_NE(html.find("pass --server-metrics"), std::string::npos);
    EXPECT_NE(html.find("No receiver saw a gap"), std::string::npos);
}

TEST(HtmlReport, ServerStagesAreTabledAndDrawn) {
    report r = sample_report();
    r.has_breakdown = true;
    prom_histogram& fanout = r.breakdown.fanout;
    fanout.bounds = {0.000025, 0.0001, 0.00025, INFINITY};
    fanout.cumulative = {10, 90, 99, 100};
    fanout.count = 100;
    fanout.sum = 0.006;
    r.breakdown.loop_pass = fanout;
    r.breakdown.loop_pass.cumulative = {10, 20, 30, 100};  // p99 past the last finite bound
    r.breakdown.deliveries = 1900;
    r.breakdown.sends = 1890;
    std::string html = html_report(r, sample_trace().trace);
    expect_self_contained(html);
    EXPECT_EQ(occurrences(html, "<svg "), 5u);
    EXPECT_NE(html.find("\u2264 100 \u00b5s"), std::string::npos);  // fan-out p50
    EXPECT_NE(html.find("&gt; 250 \u00b5s"), std::string::npos);    // loop pass p99
    EXPECT_NE(html.find("60 \u00b5s"), std::string::npos);          // fan-out mean
    EXPECT_NE(html.find("0.9947 sends per delivery"), std::string::npos);
}

TEST(HtmlReport, MissingSeriesGetNotesNotEmptyCharts) {
    report r = sample_report();
    r.scenario = "idle";
    r.sent = r.expected = r.received = 0;
    r.latency_us = {};
    run_trace bare{nullptr, nullptr, {}, false, "now"};
    std::string html = html_report(r, bare);
    expect_self_contained(html);
    EXPECT_EQ(occurrences(html, "<svg "), 0u);
    EXPECT_NE(html.find("measured no end-to-end latency (the idle scenario"), std::string::npos);
    EXPECT_NE(html.find("made no deliveries"), std::string::npos);
    EXPECT_NE(html.find("expects no deliveries"), std::string::npos);
    EXPECT_NE(html.find("too short for two CPU samples"), std::string::npos);
    EXPECT_NE(html.find("pass --server-metrics"), std::string::npos);
}

TEST(HtmlReport, LossOverTimeIsDrawnWhenReceiversSawGaps) {
    report r = sample_report();
    r.received = 94000;
    r.gaps = 1000;
    r.loss = 1000.0 / 95000;
    r.passed = false;
    r.verdict = "loss 0.010526 exceeds --max-loss";
    sample_trace t;
    t.series.record_counters(origin + 5 * s + 1, {5000, 95000, 94000, 1000});
    t.trace.server_sampled = false;
    std::string html = html_report(r, t.trace);
    expect_self_contained(html);
    EXPECT_NE(html.find(">FAIL<"), std::string::npos);
    EXPECT_NE(html.find("exceeds --max-loss"), std::string::npos);
    EXPECT_NE(html.find("Missing deliveries per second"), std::string::npos);
    EXPECT_NE(html.find("1000 of 95000 expected deliveries missing"), std::string::npos);
    EXPECT_NE(html.find("pass --server-pid"), std::string::npos);  // CPU: bench only
}

constexpr const char* step_json = R"({
  "scenario": "rooms", "protocol": "chorus", "connections": 2000,
  "load": {"rooms": 40, "members": 50, "speakers": 2, "rate": 50, "payload_bytes": 120,
           "duration_seconds": 10},
  "command": "chorus-bench rooms --rooms 40",
  "loss": 0, "window_seconds": 10.01, "deliveries_per_sec": 195000, "bench_cpu_seconds": 6.5,
  "latency_us": {"count": 1950000, "p50": 410.0, "p90": 900.0, "p99": 2300.0, "p999": 5000.0,
                 "max": 9000.0},
  "server": {"cpu_seconds": 7.8, "deliveries_per_cpu_second": 250000},
  "server_metrics": {"fanout": {"count": 1, "mean_us": 1.0, "p50_us": null, "p99_us": null}},
  "verdict": "ok", "passed": true
})";

TEST(LadderReport, ParsesAStep) {
    ladder_step step;
    std::string error;
    ASSERT_TRUE(parse_ladder_step(step_json, &step, &error)) << error;
    EXPECT_EQ(step.scenario, "rooms");
    EXPECT_EQ(step.load, 40);
    EXPECT_EQ(step.connections, 2000u);
    EXPECT_EQ(step.p99_us, 2300);
    EXPECT_TRUE(step.has_server);
    EXPECT_EQ(step.deliveries_per_cpu_second, 250000);
    EXPECT_TRUE(step.passed);
}

TEST(LadderReport, RefusesWhatIsNotAStep) {
    ladder_step step;
    std::string error;
    EXPECT_FALSE(parse_ladder_step("", &step, &error));
    EXPECT_FALSE(parse_ladder_step("[1, 2]", &step, &error));
    EXPECT_FALSE(parse_ladder_step("{\"scenario\": \"rooms\"}", &step, &error));
    EXPECT_NE(error.find("latency_us"), std::string::npos);
    std::string old = step_json;
    old.replace(old.find("\"load\""), 4 + 2, "\"lode\"");
    EXPECT_FALSE(parse_ladder_step(old, &step, &error));
    EXPECT_NE(error.find("load.rooms"), std::string::npos);
    std::string inf = step_json;
    inf.replace(inf.find("2300.0"), 6, "inf");  // what chorus-bench used to write
    EXPECT_FALSE(parse_ladder_step(inf, &step, &error));
}

TEST(LadderReport, PageDrawsEveryMeasureAgainstLoad) {
    std::vector<ladder_step> steps;
    for (int rooms : {80, 10, 40}) {  // drawn by load, whatever the order given
        std::string error;
        ladder_step step;
        std::string json = step_json;
        json.replace(json.find("\"rooms\": 40"), 11, "\"rooms\": " + std::to_string(rooms));
        ASSERT_TRUE(parse_ladder_step(json, &step, &error)) << error;
        steps.push_back(step);
    }
    steps[0].loss = 0.02;
    steps[0].passed = false;
    steps[0].verdict = "loss <0.02>";
    steps[1].has_server = false;
    std::string html = ladder_html(steps, "now");
    expect_self_contained(html);
    EXPECT_EQ(occurrences(html, "<svg "), 4u);  // latency, cost, loss, CPU
    EXPECT_NE(html.find("3 steps"), std::string::npos);
    EXPECT_NE(html.find("FAIL: loss &lt;0.02&gt;"), std::string::npos);
    EXPECT_NE(html.find("250k"), std::string::npos);
    EXPECT_NE(html.find("2 %"), std::string::npos);
    size_t ten = html.find("<tr><td class=\"num\">10<");
    size_t eighty = html.find("<tr><td class=\"num\">80<");
    ASSERT_NE(ten, std::string::npos);
    EXPECT_LT(ten, eighty);
    EXPECT_NE(html.find("bench (load generator)"), std::string::npos);
}

TEST(LadderReport, WithoutServerSamplesItSaysSo) {
    ladder_step step;
    std::string error;
    ASSERT_TRUE(parse_ladder_step(step_json, &step, &error));
    step.has_server = false;
    std::string html = ladder_html({step}, "now");
    expect_self_contained(html);
    EXPECT_NE(html.find("No step sampled the server"), std::string::npos);
    EXPECT_EQ(occurrences(html, "<svg "), 3u);
    EXPECT_EQ(occurrences(ladder_html({}, "now"), "<svg "), 0u);
}

}  // namespace
}  // namespace chorus::bench
