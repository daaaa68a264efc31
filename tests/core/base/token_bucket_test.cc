// token_bucket: starts full, refills at the rate, never holds more than the burst, and the
// degenerate settings (rate 0, burst 0, default) behave as documented.
#include "core/base/token_bucket.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace chorus::base {
namespace {

constexpr uint64_t second_ns = 1'000'000'000;
constexpr uint64_t start_ns = 5 * second_ns;

int take_all(token_bucket& bucket, uint64_t now_ns) {
    int taken = 0;
    while (taken < 1'000'000 && bucket.take(now_ns)) taken++;
    return taken;
}

TEST(TokenBucket, StartsFullWithBurst) {
    token_bucket bucket(20, 50, start_ns);
    EXPECT_EQ(take_all(bucket, start_ns), 50);
    EXPECT_FALSE(bucket.take(start_ns));
}

TEST(TokenBucket, RefillsAtTheRate) {
    token_bucket bucket(20, 50, start_ns);
    EXPECT_EQ(take_all(bucket, start_ns), 50);
    // 20/s: one token every 50 ms.
    EXPECT_FALSE(bucket.take(start_ns + 49'999'999));
    EXPECT_TRUE(bucket.take(start_ns + 50'000'000));
    EXPECT_FALSE(bucket.take(start_ns + 50'000'000));
    EXPECT_EQ(take_all(bucket, start_ns + second_ns), 19);
}

TEST(TokenBucket, NeverExceedsBurst) {
    token_bucket bucket(20, 50, start_ns);
    EXPECT_EQ(take_all(bucket, start_ns + 3600 * second_ns), 50);
    EXPECT_EQ(take_all(bucket, start_ns + 7200 * second_ns), 50);
}

TEST(TokenBucket, SustainedRateMatches) {
    token_bucket bucket(20, 50, start_ns);
    int passed = 0;
    // Offer 1000 requests/s for 10 s: burst plus 20/s gets through.
    for (uint64_t t = 0; t < 10 * second_ns; t += second_ns / 1000) {
        passed += bucket.take(start_ns + t) ? 1 : 0;
    }
    EXPECT_GE(passed, 50 + 199);
    EXPECT_LE(passed, 50 + 200);
}

TEST(TokenBucket, PartialRefillKeepsFraction) {
    token_bucket bucket(3, 1, start_ns);
    EXPECT_TRUE(bucket.take(start_ns));
    EXPECT_FALSE(bucket.take(start_ns + second_ns / 6));  // half a token
    EXPECT_TRUE(bucket.take(start_ns + second_ns / 3));   // the rest of it
}

TEST(TokenBucket, ClockGoingBackIsHarmless) {
    token_bucket bucket(10, 2, start_ns);
    EXPECT_EQ(take_all(bucket, start_ns), 2);
    EXPECT_FALSE(bucket.take(start_ns - second_ns));
    EXPECT_FALSE(bucket.take(0));
    EXPECT_TRUE(bucket.take(start_ns + second_ns / 10));
}

TEST(TokenBucket, DegenerateSettings) {
    token_bucket unlimited;
    EXPECT_EQ(take_all(unlimited, 0), 1'000'000);
    token_bucket rate_zero(0, 5, start_ns);
    EXPECT_EQ(take_all(rate_zero, start_ns), 1'000'000);
    token_bucket burst_zero(10, 0, start_ns);
    EXPECT_EQ(burst_zero.burst(), 1u);
    EXPECT_EQ(take_all(burst_zero, start_ns), 1);
    token_bucket fast(4'000'000'000u, 4'000'000'000u, start_ns);
    EXPECT_TRUE(fast.take(start_ns));
    static_assert(sizeof(token_bucket) <= 16);
}

}  // namespace
}  // namespace chorus::base
