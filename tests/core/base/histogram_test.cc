// histogram: percentiles against an exact sort (within 1%), merge, cumulative counts, and the
// edges (empty, zero, the largest uint64).
#include "core/base/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

namespace chorus::base {
namespace {

uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double q) {
    double wanted = q / 100.0 * static_cast<double>(sorted.size());
    auto rank = static_cast<size_t>(std::ceil(wanted));
    rank = std::clamp<size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

void expect_within_one_percent(uint64_t got, uint64_t want, double q) {
    double error = std::fabs(static_cast<double>(got) - static_cast<double>(want));
    EXPECT_LE(error, static_cast<double>(want) * 0.01)
        << "q=" << q << " got " << got << " want " << want;
}

TEST(Histogram, EmptyIsAllZero) {
    auto h = std::make_unique<histogram>();
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->min(), 0u);
    EXPECT_EQ(h->max(), 0u);
    EXPECT_EQ(h->mean(), 0.0);
    EXPECT_EQ(h->percentile(50), 0u);
    EXPECT_EQ(h->count_at_or_below(1000), 0u);
}

TEST(Histogram, PercentilesMatchExactSortOnRandomData) {
    std::mt19937_64 rng(12345);
    // Log-uniform values from 1 to ~2^40 exercise every bucket group.
    std::uniform_real_distribution<double> exponent(0.0, 40.0);
    std::vector<uint64_t> values;
    auto h = std::make_unique<histogram>();
    for (int i = 0; i < 200'000; i++) {
        auto v = static_cast<uint64_t>(std::exp2(exponent(rng)));
        values.push_back(v);
        h->record(v);
    }
    std::sort(values.begin(), values.end());
    for (double q : {0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        expect_within_one_percent(h->percentile(q), exact_percentile(values, q), q);
    }
    EXPECT_EQ(h->percentile(0), values.front());
    EXPECT_EQ(h->percentile(100), values.back());
    EXPECT_EQ(h->min(), values.front());
    EXPECT_EQ(h->max(), values.back());
    EXPECT_EQ(h->count(), values.size());
}

TEST(Histogram, LatencyLikeDataWithinOnePercent) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> latency_us(7.0, 1.0);  // median ~1 ms
    std::vector<uint64_t> values;
    auto h = std::make_unique<histogram>();
    for (int i = 0; i < 100'000; i++) {
        auto v = static_cast<uint64_t>(latency_us(rng));
        values.push_back(v);
        h->record(v);
    }
    std::sort(values.begin(), values.end());
    for (double q = 0.5; q < 100.0; q += 0.5) {
        expect_within_one_percent(h->percentile(q), exact_percentile(values, q), q);
    }
}

TEST(Histogram, SmallValuesAreExact) {
    auto h = std::make_unique<histogram>();
    for (uint64_t v = 0; v < 256; v++) h->record(v);
    for (uint64_t v = 0; v < 256; v++) EXPECT_EQ(h->count_at_or_below(v), v + 1);
    EXPECT_EQ(h->percentile(50), 127u);
    EXPECT_DOUBLE_EQ(h->mean(), 127.5);
}

TEST(Histogram, ZeroAndHugeValues) {
    auto h = std::make_unique<histogram>();
    uint64_t huge = std::numeric_limits<uint64_t>::max();
    h->record(0);
    h->record(huge);
    h->record(uint64_t{1} << 40);
    EXPECT_EQ(h->min(), 0u);
    EXPECT_EQ(h->max(), huge);
    EXPECT_EQ(h->percentile(0), 0u);
    EXPECT_EQ(h->percentile(100), huge);
    expect_within_one_percent(h->percentile(50), uint64_t{1} << 40, 50);
    EXPECT_EQ(h->count_at_or_below(0), 1u);
    EXPECT_EQ(h->count_at_or_below(huge), 3u);
    EXPECT_EQ(histogram::bucket_index(huge), histogram::bucket_count - 1);
    EXPECT_EQ(histogram::bucket_highest(histogram::bucket_count - 1), huge);
}

TEST(Histogram, BucketsTileTheRange) {
    for (size_t i = 0; i + 1 < histogram::bucket_count; i++) {
        ASSERT_EQ(histogram::bucket_highest(i) + 1, histogram::bucket_lowest(i + 1)) << i;
        ASSERT_EQ(histogram::bucket_index(histogram::bucket_lowest(i)), i);
        ASSERT_EQ(histogram::bucket_index(histogram::bucket_highest(i)), i);
        uint64_t width = histogram::bucket_highest(i) - histogram::bucket_lowest(i) + 1;
        if (i < histogram::sub_bucket_count) {
            ASSERT_EQ(width, 1u) << i;
        } else {
            ASSERT_LE(width * histogram::sub_bucket_count, histogram::bucket_lowest(i)) << i;
        }
    }
}

TEST(Histogram, RecordWithCountAndMean) {
    auto h = std::make_unique<histogram>();
    h->record(100, 3);
    h->record(200, 1);
    h->record(5, 0);  // a zero count records nothing
    EXPECT_EQ(h->count(), 4u);
    EXPECT_EQ(h->min(), 100u);
    EXPECT_DOUBLE_EQ(h->mean(), 125.0);
    EXPECT_EQ(h->percentile(75), 100u);
    EXPECT_EQ(h->percentile(76), 200u);
}

TEST(Histogram, MergeAddsEverything) {
    auto a = std::make_unique<histogram>();
    auto b = std::make_unique<histogram>();
    auto both = std::make_unique<histogram>();
    std::mt19937_64 rng(99);
    std::uniform_int_distribution<uint64_t> dist(1, 10'000'000);
    for (int i = 0; i < 10'000; i++) {
        uint64_t v = dist(rng);
        (i % 2 ? *a : *b).record(v);
        both->record(v);
    }
    a->merge(*b);
    EXPECT_EQ(a->count(), both->count());
    EXPECT_EQ(a->min(), both->min());
    EXPECT_EQ(a->max(), both->max());
    EXPECT_DOUBLE_EQ(a->mean(), both->mean());
    for (double q : {1.0, 50.0, 99.0}) EXPECT_EQ(a->percentile(q), both->percentile(q));

    auto empty = std::make_unique<histogram>();
    empty->merge(*a);
    EXPECT_EQ(empty->min(), a->min());
    a->merge(histogram());
    EXPECT_EQ(a->count(), both->count());
}

TEST(Histogram, CountAtOrBelowIsCumulative) {
    auto h = std::make_unique<histogram>();
    for (uint64_t v = 1; v <= 100'000; v++) h->record(v);
    uint64_t previous = 0;
    for (uint64_t le : {1, 10, 100, 1000, 5000, 10'000, 50'000, 100'000}) {
        uint64_t n = h->count_at_or_below(le);
        EXPECT_GE(n, previous);
        // Bucket precision: the bucket holding `le` counts whole.
        EXPECT_GE(n, le);
        EXPECT_LE(static_cast<double>(n), static_cast<double>(le) * 1.01);
        previous = n;
    }
    EXPECT_EQ(h->count_at_or_below(100'000), h->count());
    EXPECT_EQ(h->count_at_or_below(0), 0u);
}

TEST(Histogram, ResetEmpties) {
    auto h = std::make_unique<histogram>();
    h->record(42);
    h->reset();
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->percentile(99), 0u);
    h->record(7);
    EXPECT_EQ(h->min(), 7u);
    EXPECT_EQ(h->max(), 7u);
}

}  // namespace
}  // namespace chorus::base
