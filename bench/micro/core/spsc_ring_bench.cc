// SPSC ring throughput: single-thread push+pop (the cost of the operations themselves) and two
// threads streaming through the ring (what the cross-core grid sees), single items and batches.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "core/base/spsc_ring.h"

namespace {

using chorus::base::spsc_ring;

// A record the size of a cross-core message (a handle plus a few fields).
struct message {
    uint64_t sequence;
    uint64_t payload[3];
};

using ring_type = spsc_ring<message, 4096>;

// Spins briefly, then yields: on a loaded machine the other side may not be running at all.
struct backoff {
    int spins = 0;
    void idle() {
        if (++spins < 128) return;
        spins = 0;
        std::this_thread::yield();
    }
};

void ring_push_pop_single_thread(benchmark::State& state) {
    auto ring = std::make_unique<ring_type>();
    message item{};
    for (auto _ : state) {
        item.sequence++;
        benchmark::DoNotOptimize(ring->try_push(item));
        message out;
        benchmark::DoNotOptimize(ring->try_pop(out));
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ring_push_pop_single_thread);

void ring_batch_single_thread(benchmark::State& state) {
    auto ring = std::make_unique<ring_type>();
    const auto batch = static_cast<size_t>(state.range(0));
    message items[256] = {};
    uint64_t sum = 0;
    for (auto _ : state) {
        size_t pushed = ring->push_batch(items, batch);
        size_t popped = ring->consume([&](const message& m) { sum += m.sequence; }, batch);
        benchmark::DoNotOptimize(pushed + popped);
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
}
BENCHMARK(ring_batch_single_thread)->Arg(16)->Arg(64)->Arg(256);

// Streams `count` messages from a producer thread to this thread; batch 1 uses try_push/try_pop.
void ring_two_threads(benchmark::State& state) {
    constexpr uint64_t count = 4'000'000;
    const auto batch = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
        auto ring = std::make_unique<ring_type>();
        std::thread producer([&] {
            message items[256] = {};
            uint64_t next = 0;
            backoff wait;
            while (next < count) {
                if (batch == 1) {
                    items[0].sequence = next;
                    if (ring->try_push(items[0])) {
                        next++;
                    } else {
                        wait.idle();
                    }
                    continue;
                }
                size_t n = count - next < batch ? count - next : batch;
                for (size_t i = 0; i < n; i++) items[i].sequence = next + i;
                size_t pushed = ring->push_batch(items, n);
                next += pushed;
                if (pushed == 0) wait.idle();
            }
        });
        uint64_t received = 0;
        uint64_t sum = 0;
        backoff wait;
        while (received < count) {
            size_t got = 0;
            if (batch == 1) {
                message out;
                if (ring->try_pop(out)) {
                    sum += out.sequence;
                    got = 1;
                }
            } else {
                got = ring->consume([&](const message& m) { sum += m.sequence; }, batch);
            }
            received += got;
            if (got == 0) wait.idle();
        }
        producer.join();
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(count));
}
BENCHMARK(ring_two_threads)
    ->Arg(1)
    ->Arg(32)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
