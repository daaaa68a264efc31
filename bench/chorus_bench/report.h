// The result of a run: what the final table prints and what --json writes (the keys scripts
// compare: scenario, connections, sent, expected, received, loss, reorders, deliveries_per_sec,
// latency_us, handshake_us, server), and the pass/fail verdict behind the exit code.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "bench/chorus_bench/server_probe.h"
#include "core/base/histogram.h"

namespace chorus::bench {

struct latency_summary {
    uint64_t count = 0;
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // microseconds
    static latency_summary from(const base::histogram& ns);
};

struct report {
    std::string scenario, protocol, backend;
    uint32_t threads = 1;
    uint64_t connections = 0;  // asked for
    // The load asked for (a ladder report plots against it) and the command line.
    uint32_t rooms = 0, members = 0, speakers = 0, payload_bytes = 0;
    double rate = 0, duration_seconds = 0;
    std::string command;
    uint64_t joined = 0, failed = 0, closed_early = 0, errors = 0;
    uint64_t sent = 0, expected = 0, received = 0, reorders = 0, gaps = 0;
    uint64_t control_expected = 0, control_received = 0;
    uint64_t joins = 0, resumes = 0, resume_failures = 0, seq_gaps = 0;
    double loss = 0;  // fraction of expected deliveries (audio and control) not received
    double window_seconds = 0;
    double deliveries_per_sec = 0, sent_per_sec = 0;
    double connect_seconds = 0, connect_rate = 0;
    double bench_cpu_seconds = 0;  // this process, during the measured window
    latency_summary latency_us, handshake_us;

    bool has_server = false;
    double server_cpu_seconds = 0;       // during the measured window
    double server_cpu_seconds_run = 0;   // from the bench's start to its end
    uint64_t server_peak_rss_bytes = 0;  // VmHWM at the end
    uint64_t server_rss_before_bytes = 0, server_rss_loaded_bytes = 0;
    double server_rss_per_connection = 0;  // idle: (loaded - before) / joined
    double deliveries_per_cpu_second = 0;

    bool has_breakdown = false;
    server_breakdown breakdown;

    std::string first_error;
    double max_loss = 0;
    bool passed = false;
    std::string verdict;  // why it failed, for people
};

// Fills loss, passed and verdict from the counters.
void judge(report& r);

void print_table(std::FILE* out, const report& r);
bool write_json(const std::string& path, const report& r, std::string* error);

}  // namespace chorus::bench
