// Final table and JSON for a run, and the verdict: any failed connection, error, loss or reorder
// beyond --max-loss fails the run (exit 1), so the bench doubles as a correctness check.
#include "bench/chorus_bench/report.h"

#include <cerrno>
#include <cmath>
#include <cstring>

namespace chorus::bench {
namespace {

double us(uint64_t ns) {
    return static_cast<double>(ns) / 1000.0;
}

void row(std::FILE* out, const char* name, const std::string& value) {
    std::fprintf(out, "  %-30s %s\n", name, value.c_str());
}

std::string format(const char* pattern, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), pattern, value);
    return buffer;
}

std::string count(uint64_t value) {
    return std::to_string(value);
}

std::string latency_line(const latency_summary& s) {
    char buffer[160];
    std::snprintf(buffer, sizeof(buffer), "p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f us",
                  s.p50, s.p90, s.p99, s.p999, s.max);
    return buffer;
}

// A stage quantile in microseconds; past the last finite bucket it is "over" that bound.
std::string stage_quantile(const prom_histogram& h, double q) {
    double seconds = h.quantile(q);
    if (std::isfinite(seconds)) return format("<= %.0f", seconds * 1e6);
    double last = h.bounds.size() >= 2 ? h.bounds[h.bounds.size() - 2] : 0;
    return format("> %.0f", last * 1e6);
}

std::string stage_line(const prom_histogram& h) {
    if (h.count == 0) return "no samples";
    char buffer[160];
    std::snprintf(buffer, sizeof(buffer), "mean %.1f us  p50 %s  p99 %s us  (%llu)",
                  h.sum / static_cast<double>(h.count) * 1e6, stage_quantile(h, 0.5).c_str(),
                  stage_quantile(h, 0.99).c_str(), static_cast<unsigned long long>(h.count));
    return buffer;
}

// JSON has no NaN or infinity: a value that is not finite (a quantile past the last bucket) is
// written as null.
std::string json_double(const char* pattern, double value) {
    return std::isfinite(value) ? format(pattern, value) : "null";
}

void json_latency(std::string& out, const char* key, const latency_summary& s) {
    char buffer[256];
    std::snprintf(buffer, sizeof(buffer),
                  "  \"%s\": {\"count\": %llu, \"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, "
                  "\"p999\": %.1f, \"max\": %.1f},\n",
                  key, static_cast<unsigned long long>(s.count), s.p50, s.p90, s.p99, s.p999,
                  s.max);
    out += buffer;
}

void json_number(std::string& out, const char* key, double value, const char* indent = "  ") {
    out += std::string(indent) + "\"" + key + "\": " + json_double("%.6g", value) + ",\n";
}

void json_count(std::string& out, const char* key, uint64_t value, const char* indent = "  ") {
    out += std::string(indent) + "\"" + key + "\": " + std::to_string(value) + ",\n";
}

void json_text(std::string& out, const char* key, const std::string& value) {
    out += std::string("  \"") + key + "\": \"";
    for (char c : value) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    out += "\",\n";
}

void json_stage(std::string& out, const char* key, const prom_histogram& h) {
    double mean = h.count ? h.sum / static_cast<double>(h.count) * 1e6 : 0;
    out += std::string("    \"") + key + "\": {\"count\": " + std::to_string(h.count) +
           ", \"mean_us\": " + json_double("%.2f", mean) +
           ", \"p50_us\": " + json_double("%.1f", h.quantile(0.5) * 1e6) +
           ", \"p99_us\": " + json_double("%.1f", h.quantile(0.99) * 1e6) + "},\n";
}

}  // namespace

latency_summary latency_summary::from(const base::histogram& ns) {
    latency_summary s;
    s.count = ns.count();
    s.p50 = us(ns.percentile(50));
    s.p90 = us(ns.percentile(90));
    s.p99 = us(ns.percentile(99));
    s.p999 = us(ns.percentile(99.9));
    s.max = us(ns.max());
    return s;
}

void judge(report& r) {
    uint64_t expected = r.expected + r.control_expected;
    uint64_t received = r.received + r.control_received;
    uint64_t missing = expected > received ? expected - received : 0;
    r.loss = expected ? static_cast<double>(missing) / static_cast<double>(expected) : 0;
    double reorder_fraction =
        expected ? static_cast<double>(r.reorders) / static_cast<double>(expected) : 0;
    r.passed = false;
    if (r.joined == 0 && r.connections > 0) {
        r.verdict = "no connection was established";
    } else if (r.failed > 0) {
        r.verdict = std::to_string(r.failed) + " connection(s) failed";
    } else if (r.closed_early > 0) {
        r.verdict = std::to_string(r.closed_early) + " connection(s) closed by the server";
    } else if (r.loss > r.max_loss) {
        r.verdict = "loss " + format("%.6f", r.loss) + " exceeds --max-loss";
    } else if (reorder_fraction > r.max_loss) {
        r.verdict = std::to_string(r.reorders) + " reordered or duplicated frame(s)";
    } else if (r.seq_gaps > 0 || r.resume_failures > 0) {
        r.verdict = "room events out of sequence or a failed resume";
    } else if (r.errors > 0) {
        r.verdict = std::to_string(r.errors) + " error(s)";
    } else {
        r.passed = true;
        r.verdict = "ok";
    }
}

void print_table(std::FILE* out, const report& r) {
    std::fprintf(out, "chorus-bench %s (%s, %u thread(s), %s)\n", r.scenario.c_str(),
                 r.protocol.c_str(), r.threads, r.backend.c_str());
    row(out, "connections",
        count(r.joined) + " of " + count(r.connections) + " (" + count(r.failed) + " failed, " +
            count(r.closed_early) + " closed early)");
    row(out, "connect time",
        format("%.2f s", r.connect_seconds) + "  (" + format("%.0f", r.connect_rate) +
            " connections/s)");
    row(out, "handshake latency", latency_line(r.handshake_us));
    if (r.sent > 0 || r.expected > 0) {
        row(out, "frames sent", count(r.sent) + "  (" + format("%.0f", r.sent_per_sec) + "/s)");
        row(out, "deliveries expected/received", count(r.expected) + " / " + count(r.received));
        row(out, "loss", format("%.4f %%", r.loss * 100) + "  (gaps " + count(r.gaps) + ")");
        row(out, "reorders/duplicates", count(r.reorders));
        row(out, "deliveries/s",
            format("%.0f", r.deliveries_per_sec) + "  over " + format("%.2f s", r.window_seconds));
        row(out, "end-to-end latency", latency_line(r.latency_us));
    }
    row(out, "bench CPU (window)", format("%.2f s", r.bench_cpu_seconds));
    if (r.control_expected > 0)
        row(out, "control expected/received",
            count(r.control_expected) + " / " + count(r.control_received));
    if (r.joins > 0)
        row(out, "churn joins / resumes",
            count(r.joins) + " / " + count(r.resumes) + "  (" + count(r.resume_failures) +
                " failed, seq gaps " + count(r.seq_gaps) + ")");
    if (r.has_server) {
        row(out, "server CPU (window / run)",
            format("%.2f s", r.server_cpu_seconds) + " / " +
                format("%.2f s", r.server_cpu_seconds_run));
        row(out, "server peak RSS", format("%.1f MiB", r.server_peak_rss_bytes / 1048576.0));
        if (r.deliveries_per_cpu_second > 0)
            row(out, "deliveries per server CPU-s", format("%.0f", r.deliveries_per_cpu_second));
        if (r.server_rss_per_connection > 0)
            row(out, "server RSS per connection",
                format("%.0f bytes", r.server_rss_per_connection));
    }
    if (r.has_breakdown) {
        const server_breakdown& b = r.breakdown;
        row(out, "server fan-out (recv->sends)", stage_line(b.fanout));
        row(out, "server loop pass", stage_line(b.loop_pass));
        row(out, "server ring dwell", stage_line(b.ring_dwell));
        if (b.deliveries > 0)
            row(out, "server sends per delivery",
                format("%.4f", b.sends / b.deliveries) + "  (dropped slow " +
                    format("%.0f", b.dropped_slow) + ")");
    }
    if (!r.first_error.empty()) row(out, "first error", r.first_error);
    row(out, "result", r.passed ? std::string("PASS") : "FAIL: " + r.verdict);
}

bool write_json(const std::string& path, const report& r, std::string* error) {
    std::string out = "{\n";
    json_text(out, "scenario", r.scenario);
    json_text(out, "protocol", r.protocol);
    json_text(out, "backend", r.backend);
    json_count(out, "threads", r.threads);
    json_count(out, "connections", r.connections);
    out += "  \"load\": {\n";
    json_count(out, "rooms", r.rooms, "    ");
    json_count(out, "members", r.members, "    ");
    json_count(out, "speakers", r.speakers, "    ");
    json_number(out, "rate", r.rate, "    ");
    json_count(out, "payload_bytes", r.payload_bytes, "    ");
    json_number(out, "duration_seconds", r.duration_seconds, "    ");
    out.resize(out.size() - 2);
    out += "\n  },\n";
    json_text(out, "command", r.command);
    json_count(out, "joined", r.joined);
    json_count(out, "failed", r.failed);
    json_count(out, "closed_early", r.closed_early);
    json_count(out, "errors", r.errors);
    json_count(out, "sent", r.sent);
    json_count(out, "expected", r.expected);
    json_count(out, "received", r.received);
    json_count(out, "control_expected", r.control_expected);
    json_count(out, "control_received", r.control_received);
    json_number(out, "loss", r.loss);
    json_count(out, "reorders", r.reorders);
    json_count(out, "gaps", r.gaps);
    json_number(out, "window_seconds", r.window_seconds);
    json_number(out, "deliveries_per_sec", r.deliveries_per_sec);
    json_number(out, "sent_per_sec", r.sent_per_sec);
    json_number(out, "connect_seconds", r.connect_seconds);
    json_number(out, "connect_rate", r.connect_rate);
    json_number(out, "bench_cpu_seconds", r.bench_cpu_seconds);
    json_count(out, "joins", r.joins);
    json_count(out, "resumes", r.resumes);
    json_count(out, "resume_failures", r.resume_failures);
    json_count(out, "seq_gaps", r.seq_gaps);
    json_latency(out, "latency_us", r.latency_us);
    json_latency(out, "handshake_us", r.handshake_us);
    if (r.has_server) {
        out += "  \"server\": {\n";
        json_number(out, "cpu_seconds", r.server_cpu_seconds, "    ");
        json_number(out, "cpu_seconds_run", r.server_cpu_seconds_run, "    ");
        json_count(out, "peak_rss_bytes", r.server_peak_rss_bytes, "    ");
        json_count(out, "rss_before_bytes", r.server_rss_before_bytes, "    ");
        json_count(out, "rss_loaded_bytes", r.server_rss_loaded_bytes, "    ");
        json_number(out, "rss_per_connection", r.server_rss_per_connection, "    ");
        json_number(out, "deliveries_per_cpu_second", r.deliveries_per_cpu_second, "    ");
        out.resize(out.size() - 2);
        out += "\n  },\n";
    }
    if (r.has_breakdown) {
        const server_breakdown& b = r.breakdown;
        out += "  \"server_metrics\": {\n";
        json_stage(out, "fanout", b.fanout);
        json_stage(out, "loop_pass", b.loop_pass);
        json_stage(out, "ring_dwell", b.ring_dwell);
        json_number(out, "sends", b.sends, "    ");
        json_number(out, "deliveries", b.deliveries, "    ");
        json_number(out, "dropped_slow", b.dropped_slow, "    ");
        json_number(out, "sends_per_delivery", b.deliveries > 0 ? b.sends / b.deliveries : 0,
                    "    ");
        out.resize(out.size() - 2);
        out += "\n  },\n";
    }
    json_text(out, "first_error", r.first_error);
    json_text(out, "verdict", r.verdict);
    out += std::string("  \"passed\": ") + (r.passed ? "true" : "false") + "\n}\n";
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (!file) {
        *error = "cannot write " + path + ": " + std::strerror(errno);
        return false;
    }
    bool ok = std::fwrite(out.data(), 1, out.size(), file) == out.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok) *error = "cannot write " + path;
    return ok;
}

}  // namespace chorus::bench
