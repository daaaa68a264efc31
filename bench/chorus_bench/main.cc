// chorus-bench: the load generator and latency profiler that ships with Chorus. main() parses
// flags, starts one worker (event loop) per --threads, steers them through connect -> send ->
// drain -> close, samples the server (/proc, /metrics) around the measured window, prints the
// progress line, the final table and --json, and exits 1 when the run failed its checks.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "bench/chorus_bench/html_report.h"
#include "bench/chorus_bench/http_client.h"
#include "bench/chorus_bench/ladder_report.h"
#include "bench/chorus_bench/options.h"
#include "bench/chorus_bench/report.h"
#include "bench/chorus_bench/server_probe.h"
#include "bench/chorus_bench/worker.h"
#include "core/base/clock.h"

using namespace chorus;
using namespace chorus::bench;

namespace {

constexpr uint64_t ms_ns = 1'000'000;
constexpr uint64_t connect_timeout_ns = 30'000 * ms_ns;  // beyond the ramp
constexpr uint64_t fds_spare = 64;
constexpr uint64_t timeline_spare_ns = 1000 * ms_ns;  // beyond duration and drain

double own_cpu_seconds();

struct bench_run {
    explicit bench_run(const options& opts) : o(opts) {}
    const options& o;
    run_control control;
    std::vector<std::unique_ptr<worker_stats>> stats;
    uint64_t start_ns = 0;
    uint64_t last_progress_ns = 0;
    bool terminal = ::isatty(STDERR_FILENO) == 1;
    // CPU over time for the report: a sample every cpu_interval_ns from cpu_origin_ns (sending
    // starts) until sampling stops (origin back to 0). At most one per timeline bucket.
    std::vector<cpu_sample> cpu;
    uint64_t cpu_origin_ns = 0, cpu_interval_ns = 1000 * ms_ns, next_cpu_ns = 0;

    template <typename F>
    uint64_t sum(F field) const {
        uint64_t total = 0;
        for (const auto& s : stats) total += field(*s).load(std::memory_order_relaxed);
        return total;
    }

    void sample_cpu(uint64_t now) {
        if (cpu_origin_ns == 0 || now < next_cpu_ns ||
            cpu.size() > timeline::time_bucket_count_max + 2)
            return;
        next_cpu_ns = now + cpu_interval_ns;
        cpu_sample sample;
        sample.seconds = static_cast<double>(now - cpu_origin_ns) / 1e9;
        sample.bench_cpu_seconds = own_cpu_seconds();
        if (o.server_pid) sample.server_cpu_seconds = sample_process(o.server_pid).cpu_seconds;
        cpu.push_back(sample);
    }

    void progress(uint64_t now, bool force = false) {
        if (o.quiet || (!force && now - last_progress_ns < 1000 * ms_ns)) return;
        uint64_t previous_ns = last_progress_ns ? last_progress_ns : start_ns;
        last_progress_ns = now;
        static uint64_t last_sent = 0, last_received = 0;
        uint64_t sent = sum([](worker_stats & s) -> auto& { return s.sent; });
        uint64_t received = sum([](worker_stats & s) -> auto& { return s.received; });
        uint64_t expected = sum([](worker_stats & s) -> auto& { return s.expected; });
        uint64_t p50 = 0, p99 = 0;
        for (const auto& s : stats) {
            p50 = std::max<uint64_t>(p50, s->p50_ns.load(std::memory_order_relaxed));
            p99 = std::max<uint64_t>(p99, s->p99_ns.load(std::memory_order_relaxed));
        }
        double seconds = static_cast<double>(now - previous_ns) / 1e9;
        std::fprintf(stderr,
                     "%s[%5.1fs] conns %llu/%llu  sent/s %.0f  delivered/s %.0f  missing %lld  "
                     "reorders %llu  p50 %.0fus p99 %.0fus%s",
                     terminal ? "\r\033[K" : "", static_cast<double>(now - start_ns) / 1e9,
                     static_cast<unsigned long long>(
                         sum([](worker_stats & s) -> auto& { return s.joined; })),
                     static_cast<unsigned long long>(o.total_connections()),
                     static_cast<double>(sent - last_sent) / seconds,
                     static_cast<double>(received - last_received) / seconds,
                     static_cast<long long>(expected) - static_cast<long long>(received),
                     static_cast<unsigned long long>(
                         sum([](worker_stats & s) -> auto& { return s.reorders; })),
                     static_cast<double>(p50) / 1e3, static_cast<double>(p99) / 1e3,
                     terminal ? "" : "\n");
        last_sent = sent;
        last_received = received;
    }

    // Sleeps in short steps until `until_ns` or done() is true, printing progress.
    template <typename F>
    void wait(uint64_t until_ns, F done) {
        for (;;) {
            uint64_t now = base::monotonic_ns();
            sample_cpu(now);
            progress(now);
            if (now >= until_ns || done()) return;
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::min<uint64_t>(20, (until_ns - now) / ms_ns + 1)));
        }
    }
};

double own_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

bool raise_fd_limit(uint64_t needed, std::string* error) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (needed <= limit.rlim_cur) return true;
    *error = "need " + std::to_string(needed) + " file descriptors but the limit is " +
             std::to_string(limit.rlim_cur) +
             " (raise it with ulimit -n, or run fewer connections)";
    return false;
}

// Drives the phases; fills the timing and server parts of the report.
void orchestrate(bench_run& run, report& r) {
    const options& o = run.o;
    process_sample before_run = o.server_pid ? sample_process(o.server_pid) : process_sample{};
    run.wait(run.start_ns + o.ramp_ms * ms_ns + connect_timeout_ns, [&] {
        for (const auto& s : run.stats)
            if (s->connect_done_ns.load() == 0) return false;
        return true;
    });
    uint64_t connected_ns = 0;
    for (const auto& s : run.stats)
        connected_ns = std::max<uint64_t>(connected_ns, s->connect_done_ns.load());
    if (connected_ns == 0) connected_ns = base::monotonic_ns();
    r.connect_seconds = static_cast<double>(connected_ns - run.start_ns) / 1e9;
    uint64_t joined = run.sum([](worker_stats & s) -> auto& { return s.joined; });
    r.connect_rate = r.connect_seconds > 0 ? static_cast<double>(joined) / r.connect_seconds : 0;

    // Samples first, so that the window they open holds every frame of the run.
    std::string metrics_before, error;
    if (!o.server_metrics_url.empty() &&
        !http_get(o.server_metrics_url, 3000, &metrics_before, &error))
        std::fprintf(stderr, "chorus-bench: %s\n", error.c_str());
    process_sample window_start = o.server_pid ? sample_process(o.server_pid) : process_sample{};
    uint64_t settle_ns = o.protocol == protocol_kind::raw ? 300 * ms_ns : 50 * ms_ns;
    if (o.scenario == scenario_kind::idle) settle_ns = 500 * ms_ns;
    uint64_t send_start = base::monotonic_ns() + settle_ns;
    run.control.send_start_ns.store(send_start);
    run.control.send_stop_ns.store(send_start + o.duration_ms * ms_ns);
    run.control.phase.store(static_cast<int>(run_phase::running));
    run.wait(send_start, [] { return false; });
    double bench_cpu_start = own_cpu_seconds();
    run.cpu_origin_ns = send_start;
    run.cpu_interval_ns = run.stats.front()->series.bucket_ns();
    run.next_cpu_ns = send_start;
    run.sample_cpu(base::monotonic_ns());
    if (o.scenario == scenario_kind::idle && o.server_pid) {
        window_start = sample_process(o.server_pid);  // every connection settled in
    }
    run.wait(send_start + o.duration_ms * ms_ns, [] { return false; });
    run.control.phase.store(static_cast<int>(run_phase::draining));
    run.wait(base::monotonic_ns() + o.drain_ms * ms_ns, [&] {
        for (const auto& s : run.stats)
            if (!s->sending_done.load(std::memory_order_acquire) && !s->finished.load())
                return false;
        uint64_t expected = run.sum([](worker_stats & s) -> auto& { return s.expected; }) +
                            run.sum([](worker_stats & s) -> auto& { return s.control_expected; });
        uint64_t received = run.sum([](worker_stats & s) -> auto& { return s.received; }) +
                            run.sum([](worker_stats & s) -> auto& { return s.control_received; });
        return received >= expected;
    });
    uint64_t end_ns = send_start + o.duration_ms * ms_ns;
    for (const auto& s : run.stats) end_ns = std::max<uint64_t>(end_ns, s->last_receive_ns.load());
    r.window_seconds = static_cast<double>(end_ns - send_start) / 1e9;
    r.bench_cpu_seconds = own_cpu_seconds() - bench_cpu_start;
    run.next_cpu_ns = 0;
    run.sample_cpu(base::monotonic_ns());  // the end of the window
    run.cpu_origin_ns = 0;
    process_sample after = o.server_pid ? sample_process(o.server_pid) : process_sample{};
    std::string metrics_after;
    if (!metrics_before.empty() && http_get(o.server_metrics_url, 3000, &metrics_after, &error)) {
        r.breakdown = breakdown_between(metrics_before, metrics_after);
        r.has_breakdown = r.breakdown.ok;
    }
    if (o.server_pid && after.ok) {
        r.has_server = true;
        r.server_cpu_seconds = after.cpu_seconds - window_start.cpu_seconds;
        r.server_cpu_seconds_run = after.cpu_seconds - before_run.cpu_seconds;
        r.server_peak_rss_bytes = after.peak_rss_bytes;
        r.server_rss_before_bytes = before_run.rss_bytes;
        r.server_rss_loaded_bytes = window_start.rss_bytes;
        if (o.scenario == scenario_kind::idle && joined > 0 &&
            window_start.rss_bytes > before_run.rss_bytes)
            r.server_rss_per_connection =
                static_cast<double>(window_start.rss_bytes - before_run.rss_bytes) /
                static_cast<double>(joined);
    }
    run.control.phase.store(static_cast<int>(run_phase::closing));
    run.progress(base::monotonic_ns(), true);
    if (run.terminal && !o.quiet) std::fputc('\n', stderr);
}

// The workers' latency histograms and timelines, merged (what the HTML report draws).
struct merged_trace {
    std::unique_ptr<base::histogram> latency = std::make_unique<base::histogram>();
    timeline series;
};

void merge(const bench_run& run, report& r, merged_trace& trace) {
    base::histogram* latency = trace.latency.get();
    auto handshake = std::make_unique<base::histogram>();
    trace.series = run.stats.front()->series;
    for (const auto& s : run.stats) {
        r.joined += s->joined.load();
        r.failed += s->failed.load();
        r.closed_early += s->closed_early.load();
        r.errors += s->errors.load();
        r.sent += s->sent.load();
        r.expected += s->expected.load();
        r.received += s->received.load();
        r.reorders += s->reorders.load();
        r.gaps += s->gaps.load();
        r.control_expected += s->control_expected.load();
        r.control_received += s->control_received.load();
        r.joins += s->joins.load();
        r.resumes += s->resumes.load();
        r.resume_failures += s->resume_failures.load();
        r.seq_gaps += s->seq_gaps.load();
        latency->merge(s->latency);
        if (s != run.stats.front()) trace.series.merge(s->series);
        handshake->merge(s->handshake);
        if (r.first_error.empty()) r.first_error = s->setup_error;
        if (r.first_error.empty()) r.first_error = s->first_error;
        if (r.backend.empty()) r.backend = s->backend;
    }
    r.latency_us = latency_summary::from(*latency);
    r.handshake_us = latency_summary::from(*handshake);
    if (r.window_seconds > 0) {
        r.deliveries_per_sec = static_cast<double>(r.received) / r.window_seconds;
        r.sent_per_sec = static_cast<double>(r.sent) / r.window_seconds;
    }
    if (r.has_server && r.server_cpu_seconds > 0 && r.received > 0)
        r.deliveries_per_cpu_second = static_cast<double>(r.received) / r.server_cpu_seconds;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "ladder-report") return ladder_report_main(args);
    options o;
    std::string error;
    bool help = false;
    if (!parse_options(args, &o, &error, &help)) {
        std::fprintf(help ? stdout : stderr, "%s%s\n", help ? "" : "chorus-bench: ", error.c_str());
        return help ? 0 : 2;
    }
    if (!raise_fd_limit(o.total_connections() + fds_spare, &error)) {
        std::fprintf(stderr, "chorus-bench: %s\n", error.c_str());
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    bench_run run(o);
    for (uint32_t t = 0; t < o.threads; ++t) {
        run.stats.push_back(std::make_unique<worker_stats>());
        run.stats.back()->series.reset((o.duration_ms + o.drain_ms) * ms_ns + timeline_spare_ns);
    }
    run.start_ns = base::monotonic_ns();
    run.control.ramp_start_ns = run.start_ns;
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < o.threads; ++t) {
        threads.emplace_back([&run, &o, t] {
            worker w(o, t, &run.control, run.stats[t].get());
            w.run();
        });
    }
    report r;
    r.scenario = scenario_name(o.scenario);
    r.protocol = o.protocol == protocol_kind::raw ? "raw" : "chorus";
    r.threads = o.threads;
    r.connections = o.total_connections();
    r.max_loss = o.max_loss;
    r.rooms = o.rooms;
    r.members = o.members;
    r.speakers = o.speakers;
    r.rate = o.rate;
    r.payload_bytes = o.payload_bytes;
    r.duration_seconds = static_cast<double>(o.duration_ms) / 1e3;
    r.command = "chorus-bench";
    for (const std::string& arg : args) r.command += " " + arg;
    orchestrate(run, r);
    for (std::thread& t : threads) t.join();
    merged_trace merged;
    merge(run, r, merged);
    judge(r);
    print_table(stdout, r);
    std::fflush(stdout);
    if (!o.json_path.empty() && !write_json(o.json_path, r, &error)) {
        std::fprintf(stderr, "chorus-bench: %s\n", error.c_str());
        return 2;
    }
    if (!o.report_path.empty()) {
        run_trace trace{&merged.series, merged.latency.get(), run.cpu, o.server_pid != 0,
                        utc_now_text()};
        if (!write_text_file(o.report_path, html_report(r, trace), &error)) {
            std::fprintf(stderr, "chorus-bench: %s\n", error.c_str());
            return 2;
        }
    }
    return r.passed ? 0 : 1;
}
