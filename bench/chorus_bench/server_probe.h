// What the bench learns about the server from outside: CPU time and memory from /proc/PID, and
// the per-stage latency histograms and counters from its Prometheus /metrics page.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::bench {

struct process_sample {
    bool ok = false;
    double cpu_seconds = 0;       // utime + stime
    uint64_t rss_bytes = 0;       // VmRSS
    uint64_t peak_rss_bytes = 0;  // VmHWM
};

process_sample sample_process(int pid);

// One Prometheus histogram: cumulative bucket counts by upper bound (seconds), sum and count.
struct prom_histogram {
    std::vector<double> bounds;        // "le" values, ascending, +Inf last
    std::vector<uint64_t> cumulative;  // same length
    double sum = 0;
    uint64_t count = 0;

    // after - before (same bucket layout, else empty).
    static prom_histogram delta(const prom_histogram& after, const prom_histogram& before);
    // Upper bound of the bucket holding the q-quantile (q in 0..1), in seconds; 0 if empty.
    double quantile(double q) const;
};

// Finds histogram `name` in Prometheus text; false if absent.
bool parse_prom_histogram(std::string_view text, std::string_view name, prom_histogram* out);
// Value of an unlabelled sample `name`; false if absent.
bool parse_prom_value(std::string_view text, std::string_view name, double* out);

// The server's view of a run, from two /metrics scrapes.
struct server_breakdown {
    bool ok = false;
    prom_histogram fanout, loop_pass, ring_dwell;
    double sends = 0, deliveries = 0, frames_in = 0, dropped_slow = 0;
};

server_breakdown breakdown_between(std::string_view before, std::string_view after);

}  // namespace chorus::bench
