// Unit tests for the per-second timeline behind --report: bucket arithmetic, what lands in which
// second, percentiles within the stated precision, counters attributed by gain, merging, and the
// memory bound (long runs widen the buckets instead of growing).
#include "bench/chorus_bench/timeline.h"

#include <gtest/gtest.h>

namespace chorus::bench {
namespace {

constexpr uint64_t s = 1'000'000'000;
constexpr uint64_t origin = 1000 * s;

TEST(Timeline, LatencyBucketsHoldTheirValues) {
    for (uint64_t v = 0; v < 16; ++v) {
        EXPECT_EQ(timeline::latency_index(v), v);
        EXPECT_EQ(timeline::latency_lowest_ns(v), v);
        EXPECT_EQ(timeline::latency_highest_ns(v), v);
    }
    for (uint64_t v : {16ull, 17ull, 100ull, 12'345ull, 999'999ull, 1ull << 39, (1ull << 41) - 1}) {
        uint32_t index = timeline::latency_index(v);
        ASSERT_LT(index, timeline::latency_bucket_count);
        EXPECT_LE(timeline::latency_lowest_ns(index), v);
        EXPECT_GE(timeline::latency_highest_ns(index), v);
        // 16 sub-buckets per power of two: a bucket is at most 1/16 of its lowest value wide.
        EXPECT_LE(timeline::latency_highest_ns(index) - timeline::latency_lowest_ns(index),
                  timeline::latency_lowest_ns(index) / 16);
    }
    EXPECT_EQ(timeline::latency_index(1ull << 41), timeline::latency_bucket_count - 1);
    EXPECT_EQ(timeline::latency_index(UINT64_MAX), timeline::latency_bucket_count - 1);
}

TEST(Timeline, NothingCountsBeforeStart) {
    timeline t;
    t.reset(10 * s);
    EXPECT_FALSE(t.started());
    t.record_latency(origin, 5000);
    t.record_counters(origin, {10, 90, 80, 1});
    t.start(origin);
    t.record_latency(origin - 1, 5000);
    EXPECT_EQ(t.used_bucket_count(), 0u);
    // The totals seen before time zero are the baseline, not a gain of the first second.
    t.record_counters(origin + s / 2, {12, 108, 98, 1});
    EXPECT_EQ(t.counters(0).sent, 2u);
    EXPECT_EQ(t.counters(0).expected, 18u);
    EXPECT_EQ(t.counters(0).received, 18u);
    EXPECT_EQ(t.counters(0).gaps, 0u);
}

TEST(Timeline, LatencyLandsInTheSecondItArrived) {
    timeline t;
    t.reset(10 * s);
    t.start(origin);
    for (int i = 0; i < 100; ++i) t.record_latency(origin + s / 3, 1'000'000);  // 1 ms
    t.record_latency(origin + 2 * s + 5, 40'000'000);                           // 40 ms
    EXPECT_EQ(t.bucket_count(), 10u);
    EXPECT_EQ(t.used_bucket_count(), 3u);
    EXPECT_EQ(t.latency_count(0), 100u);
    EXPECT_EQ(t.latency_count(1), 0u);
    EXPECT_EQ(t.latency_count(2), 1u);
    EXPECT_EQ(t.latency_max_ns(2), 40'000'000u);
    EXPECT_EQ(t.latency_percentile_ns(1, 50), 0u);  // an empty second has no percentile
    uint64_t p50 = t.latency_percentile_ns(0, 50);
    EXPECT_NEAR(static_cast<double>(p50), 1e6, 1e6 / 32);
}

TEST(Timeline, PercentilesSplitTheSecond) {
    timeline t;
    t.reset(2 * s);
    t.start(origin);
    for (int i = 0; i < 90; ++i) t.record_latency(origin, 100'000);    // 100 us
    for (int i = 0; i < 10; ++i) t.record_latency(origin, 5'000'000);  // 5 ms
    EXPECT_NEAR(static_cast<double>(t.latency_percentile_ns(0, 50)), 1e5, 1e5 / 32);
    EXPECT_NEAR(static_cast<double>(t.latency_percentile_ns(0, 90)), 1e5, 1e5 / 32);
    EXPECT_NEAR(static_cast<double>(t.latency_percentile_ns(0, 99)), 5e6, 5e6 / 32);
    EXPECT_LE(t.latency_percentile_ns(0, 99), t.latency_max_ns(0));
}

TEST(Timeline, CountersAreGainsPerSecond) {
    timeline t;
    t.reset(5 * s);
    t.start(origin);
    t.record_counters(origin + s / 2, {10, 100, 100, 0});
    t.record_counters(origin + s + 1, {20, 200, 190, 3});
    t.record_counters(origin + s + 2, {20, 200, 200, 3});
    EXPECT_EQ(t.counters(0).sent, 10u);
    EXPECT_EQ(t.counters(0).received, 100u);
    EXPECT_EQ(t.counters(1).sent, 10u);
    EXPECT_EQ(t.counters(1).received, 100u);
    EXPECT_EQ(t.counters(1).gaps, 3u);
    EXPECT_EQ(t.used_bucket_count(), 2u);
}

TEST(Timeline, StragglersAfterTheSpanCountInTheLastBucket) {
    timeline t;
    t.reset(3 * s);
    t.start(origin);
    t.record_latency(origin + 60 * s, 7000);
    EXPECT_EQ(t.latency_count(2), 1u);
}

TEST(Timeline, BucketCursorFollowsTimeBothWays) {
    timeline t;
    t.reset(3 * s);
    t.start(origin);
    t.record_latency(origin + s / 2, 1000);
    t.record_latency(origin + s - 1, 1000);  // still the first bucket
    t.record_latency(origin + s, 1000);      // the second starts here
    t.record_latency(origin + s / 3, 1000);  // back in the first
    t.record_latency(origin - 1, 1000);      // before time zero: not counted
    t.record_latency(origin + 100 * s, 1000);
    t.record_latency(origin + 200 * s, 1000);  // the last bucket takes everything after it
    EXPECT_EQ(t.latency_count(0), 3u);
    EXPECT_EQ(t.latency_count(1), 1u);
    EXPECT_EQ(t.latency_count(2), 2u);
    t.start(origin + 10 * s);  // a new time zero forgets the cursor
    t.record_latency(origin + s / 2, 1000);
    EXPECT_EQ(t.latency_count(0), 3u);
    t.reset(3 * s);
    t.start(origin);
    t.record_latency(origin + 2 * s, 1000);
    EXPECT_EQ(t.latency_count(2), 1u);
    EXPECT_EQ(t.latency_count(0), 0u);
}

TEST(Timeline, LongRunsWidenBucketsInsteadOfGrowing) {
    timeline t;
    t.reset(3600 * s);
    EXPECT_LE(t.bucket_count(), timeline::time_bucket_count_max);
    EXPECT_EQ(t.bucket_ns(), 6 * s);
    t.start(origin);
    t.record_latency(origin + 13 * s, 1000);
    EXPECT_EQ(t.latency_count(2), 1u);
    timeline tiny;
    tiny.reset(0);
    EXPECT_EQ(tiny.bucket_count(), 1u);
    EXPECT_EQ(tiny.bucket_ns(), s);
}

TEST(Timeline, MergeAddsWorkersTogether) {
    timeline a, b;
    a.reset(4 * s);
    b.reset(4 * s);
    a.start(origin);
    b.start(origin);
    a.record_latency(origin + s, 1000);
    b.record_latency(origin + s, 9000);
    b.record_counters(origin + 3 * s, {5, 45, 45, 0});
    ASSERT_TRUE(a.merge(b));
    EXPECT_EQ(a.latency_count(1), 2u);
    EXPECT_EQ(a.latency_max_ns(1), 9000u);
    EXPECT_EQ(a.counters(3).received, 45u);
    timeline idle;  // a worker that never started (no rooms of its own) adds nothing
    idle.reset(4 * s);
    EXPECT_TRUE(a.merge(idle));
    timeline other;
    other.reset(9 * s);
    EXPECT_FALSE(a.merge(other));
    timeline shifted;
    shifted.reset(4 * s);
    shifted.start(origin + 1);
    EXPECT_FALSE(a.merge(shifted));
}

}  // namespace
}  // namespace chorus::bench
