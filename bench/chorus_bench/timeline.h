// A run over time: per time bucket (one second, or wider for long runs) a coarse latency
// histogram and the delivery counters, so that the HTML report can draw percentiles and rates
// second by second. Each worker owns one (no lock, no allocation after reset()); main merges them
// after joining the threads.
#pragma once

#include <cstdint>
#include <vector>

namespace chorus::bench {

// Running totals a worker publishes; the timeline keeps what each bucket added.
struct timeline_counters {
    uint64_t sent = 0, expected = 0, received = 0, gaps = 0;
};

class timeline {
  public:
    // 16 sub-buckets per power of two (within 1/32 of a recorded value), exact below 16 ns,
    // up to 2^40 ns (18 minutes); anything slower lands in the last bucket.
    static constexpr unsigned sub_bucket_bits = 4;
    static constexpr uint32_t sub_bucket_count = 1u << sub_bucket_bits;
    static constexpr unsigned top_bit_max = 40;
    static constexpr uint32_t latency_bucket_count =
        sub_bucket_count + (top_bit_max - sub_bucket_bits + 1) * sub_bucket_count;
    // At most this many time buckets (about 2.5 KiB each); a longer run widens them.
    static constexpr uint32_t time_bucket_count_max = 600;
    static constexpr uint64_t second_ns = 1'000'000'000;

    // Sizes the timeline for `span_ns` of traffic after start() (the only allocation).
    void reset(uint64_t span_ns);
    // Time zero: when senders start. Nothing is recorded before.
    void start(uint64_t origin_ns);
    bool started() const { return _origin_ns != 0; }

    // Hot path: a bucket index and three stores, no allocation (and no division while `now_ns`
    // stays in the bucket of the previous call).
    void record_latency(uint64_t now_ns, uint64_t latency_ns);
    // Attributes what the counters gained since the previous call to the bucket holding now_ns.
    void record_counters(uint64_t now_ns, const timeline_counters& totals);

    // Adds `other` (same reset() span and start() origin) into this one; false if they differ.
    bool merge(const timeline& other);

    uint64_t origin_ns() const { return _origin_ns; }
    uint64_t bucket_ns() const { return _bucket_ns; }
    uint32_t bucket_count() const { return static_cast<uint32_t>(_counters.size()); }
    // Buckets up to the last one that recorded anything.
    uint32_t used_bucket_count() const;

    const timeline_counters& counters(uint32_t bucket) const { return _counters[bucket]; }
    uint64_t latency_count(uint32_t bucket) const { return _latency_counts[bucket]; }
    uint64_t latency_max_ns(uint32_t bucket) const { return _latency_max_ns[bucket]; }
    // q in (0, 100): the middle of the bucket holding the q-quantile, never above the maximum;
    // 0 when the bucket saw no latency.
    uint64_t latency_percentile_ns(uint32_t bucket, double q) const;

    static uint32_t latency_index(uint64_t ns);
    static uint64_t latency_lowest_ns(uint32_t index);
    static uint64_t latency_highest_ns(uint32_t index);

  private:
    uint32_t bucket_of(uint64_t now_ns) const;

    uint64_t _origin_ns = 0;
    uint64_t _bucket_ns = second_ns;
    // The bucket of the last record_latency() and the times it spans: [_cursor_from_ns,
    // _cursor_to_ns). Empty until the first call after start().
    uint32_t _cursor = 0;
    uint64_t _cursor_from_ns = 1, _cursor_to_ns = 0;
    std::vector<uint32_t> _latency;  // [bucket * latency_bucket_count + index]
    std::vector<uint64_t> _latency_counts, _latency_max_ns;
    std::vector<timeline_counters> _counters;
    timeline_counters _last;  // totals at the previous record_counters()
};

}  // namespace chorus::bench
