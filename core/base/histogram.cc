// Histogram bucket arithmetic. A value v >= 128 with highest set bit m falls in group m - 7,
// sub-bucket given by the 7 bits below the top one: bucket width is 2^(m-7) <= v / 128.
#include "core/base/histogram.h"

#include <cstring>

#include "core/base/assert.h"

namespace chorus::base {

histogram::histogram() {
    reset();
}

size_t histogram::bucket_index(uint64_t value) {
    if (value < sub_bucket_count) return static_cast<size_t>(value);
    unsigned top_bit = 63u - static_cast<unsigned>(__builtin_clzll(value));
    unsigned shift = top_bit - sub_bucket_bits;
    uint64_t sub = (value >> shift) - sub_bucket_count;
    return static_cast<size_t>(sub_bucket_count + shift * sub_bucket_count + sub);
}

uint64_t histogram::bucket_lowest(size_t index) {
    if (index < sub_bucket_count) return index;
    uint64_t shift = (index - sub_bucket_count) / sub_bucket_count;
    uint64_t sub = (index - sub_bucket_count) % sub_bucket_count;
    return (sub_bucket_count + sub) << shift;
}

uint64_t histogram::bucket_highest(size_t index) {
    if (index < sub_bucket_count) return index;
    uint64_t shift = (index - sub_bucket_count) / sub_bucket_count;
    return bucket_lowest(index) + ((uint64_t{1} << shift) - 1);
}

void histogram::record(uint64_t value, uint64_t count) {
    if (count == 0) return;
    _buckets[bucket_index(value)] += count;
    if (_count == 0 || value < _min) _min = value;
    if (_count == 0 || value > _max) _max = value;
    _count += count;
    _sum += static_cast<unsigned __int128>(value) * count;
}

double histogram::mean() const {
    if (_count == 0) return 0.0;
    return static_cast<double>(_sum) / static_cast<double>(_count);
}

uint64_t histogram::percentile(double q) const {
    if (_count == 0) return 0;
    if (!(q > 0.0)) return _min;  // also catches NaN
    if (q >= 100.0) return _max;
    double wanted = q / 100.0 * static_cast<double>(_count);
    uint64_t rank = static_cast<uint64_t>(wanted);
    if (static_cast<double>(rank) < wanted) rank++;
    if (rank == 0) rank = 1;
    if (rank > _count) rank = _count;

    uint64_t seen = 0;
    size_t index = bucket_index(_min);
    size_t last = bucket_index(_max);
    for (; index < last; index++) {
        seen += _buckets[index];
        if (seen >= rank) break;
    }
    // The middle of the bucket is within half a bucket width of every value in it.
    uint64_t low = bucket_lowest(index);
    uint64_t middle = low + (bucket_highest(index) - low + 1) / 2;
    if (bucket_highest(index) == low) middle = low;
    if (middle < _min) return _min;
    if (middle > _max) return _max;
    return middle;
}

uint64_t histogram::count_at_or_below(uint64_t value) const {
    if (_count == 0 || value < _min) return 0;
    if (value >= _max) return _count;
    size_t last = bucket_index(value);
    uint64_t total = 0;
    for (size_t index = bucket_index(_min); index <= last; index++) total += _buckets[index];
    return total;
}

void histogram::merge(const histogram& other) {
    if (other._count == 0) return;
    for (size_t i = 0; i < bucket_count; i++) _buckets[i] += other._buckets[i];
    if (_count == 0 || other._min < _min) _min = other._min;
    if (_count == 0 || other._max > _max) _max = other._max;
    _count += other._count;
    _sum += other._sum;
    CHORUS_ASSERT(_count >= other._count);
}

void histogram::reset() {
    _count = 0;
    _min = 0;
    _max = 0;
    _sum = 0;
    std::memset(_buckets, 0, sizeof(_buckets));
}

}  // namespace chorus::base
