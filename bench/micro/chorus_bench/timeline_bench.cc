// What --report's per-second data cost a bench worker per received frame: timeline
// record_latency next to the whole-run base::histogram record the worker already did, over
// latencies spread like a loopback run's (tens of microseconds to milliseconds).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/chorus_bench/timeline.h"
#include "core/base/histogram.h"

namespace {

constexpr uint64_t second_ns = 1'000'000'000;
constexpr uint64_t origin_ns = 1000 * second_ns;

std::vector<uint64_t> latencies() {
    std::vector<uint64_t> out(4096);
    uint64_t state = 88172645463325252ull;
    for (uint64_t& value : out) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        value = 20'000 + state % 5'000'000;  // 20 us .. 5 ms
    }
    return out;
}

void histogram_record(benchmark::State& state) {
    auto histogram = std::make_unique<chorus::base::histogram>();
    std::vector<uint64_t> values = latencies();
    size_t i = 0;
    for (auto _ : state) {
        histogram->record(values[i++ & 4095]);
        benchmark::ClobberMemory();
    }
}

void timeline_record_latency(benchmark::State& state) {
    chorus::bench::timeline series;
    series.reset(60 * second_ns);
    series.start(origin_ns);
    std::vector<uint64_t> values = latencies();
    uint64_t now = origin_ns;
    size_t i = 0;
    for (auto _ : state) {
        now += 997;  // about a million frames per second of run time
        series.record_latency(now, values[i++ & 4095]);
        benchmark::ClobberMemory();
    }
}

}  // namespace

BENCHMARK(histogram_record);
BENCHMARK(timeline_record_latency);
