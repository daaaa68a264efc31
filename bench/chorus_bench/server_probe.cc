// Server probing: /proc/PID/stat and /proc/PID/status for CPU and memory, and a small reader for
// the Prometheus text format (only what chorusd writes: unlabelled samples and le-labelled
// histogram buckets).
#include "bench/chorus_bench/server_probe.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace chorus::bench {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

uint64_t status_kib(const std::string& status, const char* key) {
    size_t at = status.find(key);
    if (at == std::string::npos) return 0;
    return std::strtoull(status.c_str() + at + std::strlen(key), nullptr, 10);
}

// Each line of `text`, in order; stops when visit returns false.
template <typename F>
void for_each_line(std::string_view text, F visit) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        if (!visit(text.substr(start, end - start))) return;
        start = end + 1;
    }
}

double parse_number(std::string_view text) {
    std::string copy(text);
    if (copy == "+Inf") return INFINITY;
    return std::strtod(copy.c_str(), nullptr);
}

}  // namespace

process_sample sample_process(int pid) {
    process_sample sample;
    std::string base = "/proc/" + std::to_string(pid);
    std::string stat = read_file(base + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return sample;
    // Fields after the command: state(3) ... utime(14) stime(15).
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int index = 3; index <= 15 && fields >> field; ++index) {
        if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (index == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::string status = read_file(base + "/status");
    sample.cpu_seconds = static_cast<double>(utime + stime) / ticks;
    sample.rss_bytes = status_kib(status, "VmRSS:") * 1024;
    sample.peak_rss_bytes = status_kib(status, "VmHWM:") * 1024;
    sample.ok = !status.empty();
    return sample;
}

prom_histogram prom_histogram::delta(const prom_histogram& after, const prom_histogram& before) {
    prom_histogram out;
    if (after.bounds != before.bounds) return out;
    out.bounds = after.bounds;
    for (size_t i = 0; i < after.cumulative.size(); ++i)
        out.cumulative.push_back(after.cumulative[i] -
                                 std::min(after.cumulative[i], before.cumulative[i]));
    out.sum = after.sum - before.sum;
    out.count = after.count - std::min(after.count, before.count);
    return out;
}

double prom_histogram::quantile(double q) const {
    if (cumulative.empty() || cumulative.back() == 0) return 0;
    double rank = std::ceil(q * static_cast<double>(cumulative.back()));
    if (rank < 1) rank = 1;
    for (size_t i = 0; i < cumulative.size(); ++i)
        if (static_cast<double>(cumulative[i]) >= rank) return bounds[i];
    return bounds.back();
}

bool parse_prom_histogram(std::string_view text, std::string_view name, prom_histogram* out) {
    prom_histogram result;
    std::string bucket = std::string(name) + "_bucket{le=\"";
    std::string sum = std::string(name) + "_sum ";
    std::string count = std::string(name) + "_count ";
    bool found = false;
    for_each_line(text, [&](std::string_view line) {
        if (line.rfind(bucket, 0) == 0) {
            size_t quote = line.find('"', bucket.size());
            size_t space = line.rfind(' ');
            if (quote == std::string_view::npos || space == std::string_view::npos) return true;
            result.bounds.push_back(
                parse_number(line.substr(bucket.size(), quote - bucket.size())));
            result.cumulative.push_back(
                std::strtoull(std::string(line.substr(space + 1)).c_str(), nullptr, 10));
            found = true;
        } else if (line.rfind(sum, 0) == 0) {
            result.sum = parse_number(line.substr(sum.size()));
        } else if (line.rfind(count, 0) == 0) {
            result.count =
                std::strtoull(std::string(line.substr(count.size())).c_str(), nullptr, 10);
        }
        return true;
    });
    if (found) *out = std::move(result);
    return found;
}

bool parse_prom_value(std::string_view text, std::string_view name, double* out) {
    std::string prefix = std::string(name) + " ";
    bool found = false;
    for_each_line(text, [&](std::string_view line) {
        if (line.rfind(prefix, 0) != 0) return true;
        *out = parse_number(line.substr(prefix.size()));
        found = true;
        return false;
    });
    return found;
}

server_breakdown breakdown_between(std::string_view before, std::string_view after) {
    server_breakdown result;
    struct histogram_field {
        const char* name;
        prom_histogram* out;
    } histograms[] = {{"chorus_fanout_seconds", &result.fanout},
                      {"chorus_loop_pass_seconds", &result.loop_pass},
                      {"chorus_ring_dwell_seconds", &result.ring_dwell}};
    for (const histogram_field& h : histograms) {
        prom_histogram a, b;
        if (parse_prom_histogram(after, h.name, &a) && parse_prom_histogram(before, h.name, &b)) {
            *h.out = prom_histogram::delta(a, b);
            result.ok = true;
        }
    }
    struct counter_field {
        const char* name;
        double* out;
    } counters[] = {{"chorus_sends_total", &result.sends},
                    {"chorus_audio_deliveries_total", &result.deliveries},
                    {"chorus_audio_frames_in_total", &result.frames_in},
                    {"chorus_audio_dropped_slow_total", &result.dropped_slow}};
    for (const counter_field& c : counters) {
        double a = 0, b = 0;
        if (parse_prom_value(after, c.name, &a) && parse_prom_value(before, c.name, &b))
            *c.out = a - b;
    }
    return result;
}

}  // namespace chorus::bench
