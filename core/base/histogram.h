// Log-linear latency histogram: exact below 128, then 128 sub-buckets per power of two, so any
// reported value is within 0.4% of a recorded one. Covers the whole uint64 range in fixed memory
// (about 58 KiB, allocated with the object); recording is a few instructions and never allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chorus::base {

class histogram {
  public:
    static constexpr unsigned sub_bucket_bits = 7;
    static constexpr uint64_t sub_bucket_count = uint64_t{1} << sub_bucket_bits;  // 128
    // Values below 128 get one bucket each; each power of two from 2^7 to 2^63 gets 128.
    static constexpr size_t bucket_count =
        sub_bucket_count + (64 - sub_bucket_bits) * sub_bucket_count;

    histogram();

    void record(uint64_t value, uint64_t count = 1);

    uint64_t count() const { return _count; }
    uint64_t max() const { return _count == 0 ? 0 : _max; }
    uint64_t min() const { return _count == 0 ? 0 : _min; }
    double mean() const;

    // q in [0, 100] (clamped). The q-quantile is the smallest recorded value v such that at least
    // ceil(q% of count) values are <= v; the answer is within 0.4% of it (exact below 256), and
    // exactly min() for q = 0 and max() for q = 100. 0 if empty.
    uint64_t percentile(double q) const;

    // Values recorded at or below `value`, to bucket precision: the bucket holding `value` counts
    // whole, so values up to 0.8% above `value` may be included. Exact below 256.
    uint64_t count_at_or_below(uint64_t value) const;

    void merge(const histogram& other);
    void reset();

    static size_t bucket_index(uint64_t value);
    static uint64_t bucket_lowest(size_t index);
    static uint64_t bucket_highest(size_t index);

  private:
    uint64_t _count = 0;
    uint64_t _min = 0;
    uint64_t _max = 0;
    unsigned __int128 _sum = 0;
    uint64_t _buckets[bucket_count];
};

}  // namespace chorus::base
