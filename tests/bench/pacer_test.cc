// Unit tests for chorus-bench pacing: frames come due at the configured rate with no drift, the
// start offsets spread senders over one interval, and a stalled sender catches up only a bounded
// burst (the rest is skipped and counted).
#include "bench/chorus_bench/pacer.h"

#include <gtest/gtest.h>

namespace chorus::bench {
namespace {

constexpr uint64_t ms = 1'000'000;

TEST(Pacer, NothingDueBeforeStart) {
    pacer p(50, 1000 * ms, 0, 8);
    EXPECT_EQ(p.due(0), 0u);
    EXPECT_EQ(p.due(999 * ms), 0u);
    EXPECT_EQ(p.next_ns(), 1000 * ms);
}

TEST(Pacer, FirstFrameAtStartThenOnePerInterval) {
    pacer p(50, 0, 0, 8);  // 20 ms interval
    EXPECT_EQ(p.interval_ns(), 20 * ms);
    EXPECT_EQ(p.due(0), 1u);
    EXPECT_EQ(p.due(1 * ms), 0u);
    EXPECT_EQ(p.due(19 * ms), 0u);
    EXPECT_EQ(p.due(20 * ms), 1u);
    EXPECT_EQ(p.due(20 * ms), 0u);  // never twice for the same slot
    EXPECT_EQ(p.next_ns(), 40 * ms);
}

TEST(Pacer, RateHoldsOverALongRunWithoutDrift) {
    pacer p(48000.0 / 960, 0, 0, 8);  // 50/s
    uint64_t total = 0;
    for (uint64_t now = 0; now <= 10'000 * ms; now += 1 * ms + 7) total += p.due(now);
    EXPECT_EQ(total, 500u);  // frames at 0, 20, ..., 9980 ms (the last poll is just short of 10 s)
    EXPECT_EQ(p.skipped(), 0u);
}

TEST(Pacer, IrregularPollingStillYieldsTheRate) {
    pacer p(1000, 0, 0, 1000);
    uint64_t total = 0, now = 0;
    for (int i = 0; i < 1000; ++i) {
        now += (i % 3 == 0) ? 3 * ms : 100'000;  // bursts of late and early polls
        total += p.due(now);
    }
    EXPECT_EQ(total, now / ms + 1);
}

TEST(Pacer, StalledSenderCatchesUpAtMostBurst) {
    pacer p(1000, 0, 0, 8);  // 1 ms interval
    EXPECT_EQ(p.due(0), 1u);
    EXPECT_EQ(p.due(100 * ms), 8u);  // 100 frames owed, 8 sent, 92 skipped
    EXPECT_EQ(p.skipped(), 92u);
    EXPECT_EQ(p.sent(), 9u);
    EXPECT_EQ(p.due(101 * ms), 1u);  // back on schedule, no second burst
}

TEST(Pacer, StaggerSpreadsSendersOverOneInterval) {
    EXPECT_EQ(pacer::stagger_ns(50, 0, 4), 0u);
    EXPECT_EQ(pacer::stagger_ns(50, 1, 4), 5 * ms);
    EXPECT_EQ(pacer::stagger_ns(50, 3, 4), 15 * ms);
    EXPECT_EQ(pacer::stagger_ns(50, 4, 4), 0u);  // wraps
    EXPECT_EQ(pacer::stagger_ns(50, 1, 0), 0u);
    pacer p(50, 0, pacer::stagger_ns(50, 2, 4), 8);
    EXPECT_EQ(p.due(9 * ms), 0u);
    EXPECT_EQ(p.due(10 * ms), 1u);
    EXPECT_EQ(p.due(30 * ms), 1u);
}

TEST(Pacer, ZeroBurstActsAsOne) {
    pacer p(1000, 0, 0, 0);
    EXPECT_EQ(p.due(50 * ms), 1u);
}

}  // namespace
}  // namespace chorus::bench
