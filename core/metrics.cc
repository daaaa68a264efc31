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

// Every plain counter and gauge, in exposition order.
struct exported {
    const char* name;
    const char* type;
    const char* help;
    const counter shard_metrics::*field;
};
constexpr exported exported_counters[] = {
    {"chorus_connections", "gauge", "Open TCP connections.", &shard_metrics::connections},
    {"chorus_connections_accepted_total", "counter", "Connections accepted.",
     &shard_metrics::connections_accepted},
    {"chorus_websocket_sessions", "gauge", "Open WebSocket sessions.",
     &shard_metrics::websocket_sessions},
    {"chorus_rooms", "gauge", "Rooms with members.", &shard_metrics::rooms},
    {"chorus_members", "gauge", "Room members, present or away.", &shard_metrics::members},
    {"chorus_frames_in_total", "counter", "WebSocket messages received.",
     &shard_metrics::frames_in},
    {"chorus_frames_out_total", "counter", "WebSocket frames queued for sending.",
     &shard_metrics::frames_out},
    {"chorus_bytes_in_total", "counter", "Bytes received.", &shard_metrics::bytes_in},
    {"chorus_bytes_out_total", "counter", "Bytes sent.", &shard_metrics::bytes_out},
    {"chorus_sends_total", "counter", "Send system calls (or io_uring sendmsg) issued.",
     &shard_metrics::sends},
    {"chorus_audio_frames_in_total", "counter", "Audio frames received.",
     &shard_metrics::audio_frames_in},
    {"chorus_audio_deliveries_total", "counter", "Audio frames queued to receivers.",
     &shard_metrics::audio_deliveries},
    {"chorus_audio_dropped_slow_total", "counter",
     "Audio frames dropped because the receiver's backlog was over its soft limit.",
     &shard_metrics::audio_dropped_slow},
    {"chorus_audio_windows_total", "counter",
     "Receivers whose held audio went out at the end of their room's window (--audio-batch).",
     &shard_metrics::audio_windows},
    {"chorus_audio_dropped_forbidden_total", "counter",
     "Audio frames dropped from muted members or members without speak permission.",
     &shard_metrics::audio_dropped_forbidden},
    {"chorus_text_messages_in_total", "counter", "Text (control) messages received.",
     &shard_metrics::text_messages_in},
    {"chorus_handoffs_total", "counter", "Connections moved to their room's home core.",
     &shard_metrics::handoffs},
    {"chorus_resumes_total", "counter", "Sessions resumed with a resume token.",
     &shard_metrics::resumes},
    {"chorus_frame_buffer_heap_allocations_total", "counter",
     "Heap allocations by the frame buffer pools (flat once warm: the audio path reuses).",
     &shard_metrics::frame_heap_allocations},
    {"chorus_tls_handshakes_total", "counter", "TLS handshakes finished on the TLS listener.",
     &shard_metrics::tls_handshakes},
    {"chorus_tls_own_records_total", "counter",
     "TLS 1.3 handshakes after which chorusd seals the records itself (OpenSSL's session freed).",
     &shard_metrics::tls_own_records},
    {"chorus_tls_failures_total", "counter",
     "TLS connections ended by a TLS error (garbage, old versions, plain HTTP).",
     &shard_metrics::tls_failures},
    {"chorus_tls_plain_http_total", "counter",
     "Plain HTTP requests on the TLS listener (answered 400: use https).",
     &shard_metrics::tls_plain_http},
};

}  // namespace

std::string render_prometheus(const shard_list& shards, bool draining) {
    std::string out;
    out.reserve(8192);
    for (const exported& e : exported_counters)
        line(out, e.name, e.type, e.help, sum(shards, e.field));
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

void append_metric_line(std::string& out, const char* name, const char* type, const char* help,
                        uint64_t value) {
    line(out, name, type, help, value);
}

}  // namespace chorus::core
