// chorus-bench --report FILE.html: one self-contained page (inline CSS and SVG, no script, a
// Content-Security-Policy that forbids any fetch) with the run's summary, latency percentiles
// over time, the latency distribution, deliveries per second, loss, CPU and the server's stages.
#pragma once

#include <string>
#include <vector>

#include "bench/chorus_bench/report.h"
#include "bench/chorus_bench/timeline.h"
#include "core/base/histogram.h"

namespace chorus::bench {

// Cumulative CPU seconds at a moment of the run (seconds since sending started).
struct cpu_sample {
    double seconds = 0;
    double server_cpu_seconds = 0;  // meaningful when run_trace::server_sampled
    double bench_cpu_seconds = 0;
};

// What only the HTML report draws; every pointer may be null (that part gets a note instead).
struct run_trace {
    const timeline* series = nullptr;             // merged over the workers
    const base::histogram* latency_ns = nullptr;  // end-to-end latency of the whole run
    std::vector<cpu_sample> cpu;
    bool server_sampled = false;
    std::string generated_at;  // "2026-12-07 16:30:00 UTC"
};

// A whole page around `body` (already HTML), with the report stylesheet.
std::string html_document(const std::string& title, const std::string& body);
// A titled section holding `content` (HTML), or `note` (text) when content is empty.
std::string html_section(const std::string& title, const std::string& explanation,
                         const std::string& content, const std::string& note);

std::string html_report(const report& r, const run_trace& trace);
// Its sections on CPU over time and on the server's stages (html_report_server.cc).
std::string cpu_section(const run_trace& trace);
std::string stages_section(const report& r);

bool write_text_file(const std::string& path, const std::string& text, std::string* error);
std::string utc_now_text();

}  // namespace chorus::bench
