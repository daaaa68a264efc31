// Prometheus text rendering: sums every shard's counters at scrape time.
#include "core/metrics.h"

#include <cstdio>

namespace chorus::core {

void shard_metrics::count_close(uint16_t code) {
    for (int i = 0; i < counted_close_count; ++i)
        if (counted_close_codes[i] == code) closes[i].add();
}

void shard_metrics::count_refusal(int status) {
    for (int i = 0; i < counted_status_count; ++i)
        if (counted_statuses[i] == status) refusals[i].add();
}

namespace {

using shard_list = std::vector<const shard_metrics*>;

uint64_t sum(const shard_list& shards, const counter shard_metrics::*field) {
    uint64_t total = 0;
    for (const shard_metrics* m : shards) total += (m->*field).get();
    return total;
}

void line(std::string& out, const char* name, const char* type, const char* help, uint64_t value) {
    char buffer[512];
    std::snprintf(buffer, sizeof(buffer), "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
                  type, name, static_cast<unsigned long long>(value));
    out += buffer;
}

void histogram(std::string& out, const shard_list& shards,
               const latency_histogram shard_metrics::*field, const char* name, const char* help) {
    char buffer[256];
    std::snprintf(buffer, sizeof(buffer), "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    out += buffer;
    uint64_t cumulative = 0;
    for (int b = 0; b <= latency_histogram::bucket_count; ++b) {
        for (const shard_metrics* m : shards) cumulative += (m->*field).buckets[b].get();
        if (b < latency_histogram::bucket_count) {
            std::snprintf(buffer, sizeof(buffer), "%s_bucket{le=\"%g\"} %llu\n", name,
                          latency_histogram::bounds_us[b] / 1e6,
                          static_cast<unsigned long long>(cumulative));
        } else {
            std::snprintf(buffer, sizeof(buffer), "%s_bucket{le=\"+Inf\"} %llu\n", name,
                          static_cast<unsigned long long>(cumulative));
        }
        out += buffer;
    }
    uint64_t sum_ns = 0;
    uint64_t count = 0;
    for (const shard_metrics* m : shards) {
        sum_ns += (m->*field).sum_ns.get();
        count += (m->*field).count.get();
    }
    std::snprintf(buffer, sizeof(buffer), "%s_sum %.9f\n%s_count %llu\n", name, sum_ns / 1e9, name,
                  static_cast<unsigned long long>(count));
    out += buffer;
}

}  // namespace

std::string render_prometheus(const shard_list& shards, bool draining) {
    std::string out;
    out.reserve(8192);
    line(out, "chorus_connections", "gauge", "Open TCP connections.",
         sum(shards, &shard_metrics::connections));
    line(out, "chorus_connections_accepted_total", "counter", "Connections accepted.",
         sum(shards, &shard_metrics::connections_accepted));
    line(out, "chorus_websocket_sessions", "gauge", "Open WebSocket sessions.",
         sum(shards, &shard_metrics::websocket_sessions));
    line(out, "chorus_rooms", "gauge", "Rooms with members.", sum(shards, &shard_metrics::rooms));
    line(out, "chorus_members", "gauge", "Room members, present or away.",
         sum(shards, &shard_metrics::members));
    line(out, "chorus_frames_in_total", "counter", "WebSocket messages received.",
         sum(shards, &shard_metrics::frames_in));
    line(out, "chorus_frames_out_total", "counter", "WebSocket frames queued for sending.",
         sum(shards, &shard_metrics::frames_out));
    line(out, "chorus_bytes_in_total", "counter", "Bytes received.",
         sum(shards, &shard_metrics::bytes_in));
    line(out, "chorus_bytes_out_total", "counter", "Bytes sent.",
         sum(shards, &shard_metrics::bytes_out));
    line(out, "chorus_sends_total", "counter", "Send system calls (or io_uring sendmsg) issued.",
         sum(shards, &shard_metrics::sends));
    line(out, "chorus_audio_frames_in_total", "counter", "Audio frames received.",
         sum(shards, &shard_metrics::audio_frames_in));
    line(out, "chorus_audio_deliveries_total", "counter", "Audio frames queued to receivers.",
         sum(shards, &shard_metrics::audio_deliveries));
    line(out, "chorus_audio_dropped_slow_total", "counter",
         "Audio frames dropped because the receiver's queue was over its soft limit.",
         sum(shards, &shard_metrics::audio_dropped_slow));
    line(out, "chorus_audio_dropped_forbidden_total", "counter",
         "Audio frames dropped from muted members or members without speak permission.",
         sum(shards, &shard_metrics::audio_dropped_forbidden));
    line(out, "chorus_text_messages_in_total", "counter", "Text (control) messages received.",
         sum(shards, &shard_metrics::text_messages_in));
    line(out, "chorus_handoffs_total", "counter", "Connections moved to their room's home core.",
         sum(shards, &shard_metrics::handoffs));
    line(out, "chorus_resumes_total", "counter", "Sessions resumed with a resume token.",
         sum(shards, &shard_metrics::resumes));
    line(out, "chorus_frame_buffer_heap_allocations_total", "counter",
         "Heap allocations by the frame buffer pools (flat once warm: the audio path reuses).",
         sum(shards, &shard_metrics::frame_heap_allocations));
    line(out, "chorus_draining", "gauge", "1 while the node drains.", draining ? 1 : 0);
    out +=
        "# HELP chorus_closes_total WebSocket closes sent, by close code.\n"
        "# TYPE chorus_closes_total counter\n";
    for (int i = 0; i < counted_close_count; ++i) {
        uint64_t total = 0;
        for (const shard_metrics* m : shards) total += m->closes[i].get();
        out += "chorus_closes_total{code=\"" + std::to_string(counted_close_codes[i]) + "\"} " +
               std::to_string(total) + "\n";
    }
    out +=
        "# HELP chorus_handshake_refusals_total HTTP refusals before the upgrade, by status.\n"
        "# TYPE chorus_handshake_refusals_total counter\n";
    for (int i = 0; i < counted_status_count; ++i) {
        uint64_t total = 0;
        for (const shard_metrics* m : shards) total += m->refusals[i].get();
        out += "chorus_handshake_refusals_total{status=\"" + std::to_string(counted_statuses[i]) +
               "\"} " + std::to_string(total) + "\n";
    }
    histogram(out, shards, &shard_metrics::loop_pass, "chorus_loop_pass_seconds",
              "Duration of one event-loop pass (wake to sleep).");
    histogram(out, shards, &shard_metrics::fanout, "chorus_fanout_seconds",
              "Audio frame receive completion to its fan-out sends being submitted.");
    histogram(out, shards, &shard_metrics::ring_dwell, "chorus_ring_dwell_seconds",
              "Time a record waited in a cross-core ring.");
    return out;
}

}  // namespace chorus::core
