// Per-shard counters and latency histograms, written only by their shard's thread and read by
// whichever shard answers GET /metrics. Single writer, so an increment is a relaxed load+store
// (no locked instruction on the hot path), and readers see a value at most a moment old.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace chorus::core {

struct counter {
    std::atomic<uint64_t> value{0};
    void add(uint64_t n = 1) {
        value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(uint64_t n) { value.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

// Fixed Prometheus buckets in microseconds.
struct latency_histogram {
    static constexpr uint64_t bounds_us[] = {5,    10,   25,   50,    100,   250,    500,
                                             1000, 2500, 5000, 10000, 25000, 100000, 1000000};
    static constexpr int bucket_count = sizeof(bounds_us) / sizeof(bounds_us[0]);
    counter buckets[bucket_count + 1];  // the last is +Inf
    counter sum_ns;
    counter count;
    void record_ns(uint64_t ns) {
        uint64_t us = ns / 1000;
        int b = 0;
        while (b < bucket_count && us > bounds_us[b]) ++b;
        buckets[b].add();
        sum_ns.add(ns);
        count.add();
    }
};

// Close codes and refusal statuses we count, in the order of their counters.
constexpr uint16_t counted_close_codes[] = {1000, 1001, 1002, 1007, 1008,
                                            1009, 1011, 1013, 4001, 4009};
constexpr int counted_close_count = sizeof(counted_close_codes) / sizeof(counted_close_codes[0]);
constexpr uint16_t counted_statuses[] = {400, 401, 403, 404, 409, 426, 431, 501, 503, 505};
constexpr int counted_status_count = sizeof(counted_statuses) / sizeof(counted_statuses[0]);

struct shard_metrics {
    counter connections;  // gauge
    counter connections_accepted;
    counter websocket_sessions;  // gauge
    counter rooms;               // gauge
    counter members;             // gauge (present + away)
    counter frames_in;
    counter frames_out;
    counter bytes_in;
    counter bytes_out;
    counter sends;
    counter audio_frames_in;
    counter audio_deliveries;
    counter audio_dropped_slow;
    counter audio_windows;  // --audio-batch: a receiver's held audio released at its window
    counter audio_dropped_forbidden;
    counter text_messages_in;
    counter handoffs;
    counter resumes;
    counter frame_heap_allocations;  // frame pool misses: flat after warm-up
    counter tls_handshakes;          // copied from the TLS loop each pass
    counter tls_own_records;
    counter tls_failures;
    counter tls_plain_http;
    counter closes[counted_close_count];
    counter refusals[counted_status_count];
    latency_histogram loop_pass;
    latency_histogram fanout;
    latency_histogram ring_dwell;

    void count_close(uint16_t code);
    void count_refusal(int status);
};

// Prometheus text exposition of the sum over all shards.
std::string render_prometheus(const std::vector<const shard_metrics*>& shards, bool draining);

// One more metric in the same text format (for counters kept outside the shards).
void append_metric_line(std::string& out, const char* name, const char* type, const char* help,
                        uint64_t value);

}  // namespace chorus::core
