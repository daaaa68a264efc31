// Timeline buckets: the same log-linear layout as base::histogram with 4 sub-bucket bits instead
// of 7, so that a second of latency fits in 2.4 KiB and ten minutes of seconds in 1.5 MiB.
#include "bench/chorus_bench/timeline.h"

#include <algorithm>

namespace chorus::bench {

uint32_t timeline::latency_index(uint64_t ns) {
    if (ns < sub_bucket_count) return static_cast<uint32_t>(ns);
    unsigned top_bit = 63u - static_cast<unsigned>(__builtin_clzll(ns));
    if (top_bit > top_bit_max) return latency_bucket_count - 1;
    unsigned shift = top_bit - sub_bucket_bits;
    uint64_t sub = (ns >> shift) - sub_bucket_count;
    return static_cast<uint32_t>(sub_bucket_count + shift * sub_bucket_count + sub);
}

uint64_t timeline::latency_lowest_ns(uint32_t index) {
    if (index < sub_bucket_count) return index;
    uint64_t shift = (index - sub_bucket_count) / sub_bucket_count;
    uint64_t sub = (index - sub_bucket_count) % sub_bucket_count;
    return (sub_bucket_count + sub) << shift;
}

uint64_t timeline::latency_highest_ns(uint32_t index) {
    if (index < sub_bucket_count) return index;
    uint64_t shift = (index - sub_bucket_count) / sub_bucket_count;
    return latency_lowest_ns(index) + ((uint64_t{1} << shift) - 1);
}

void timeline::reset(uint64_t span_ns) {
    uint64_t seconds = std::max<uint64_t>(1, (span_ns + second_ns - 1) / second_ns);
    uint64_t width = (seconds + time_bucket_count_max - 1) / time_bucket_count_max;
    _bucket_ns = width * second_ns;
    uint64_t buckets = (seconds + width - 1) / width;
    _origin_ns = 0;
    _latency.assign(buckets * latency_bucket_count, 0);
    _latency_counts.assign(buckets, 0);
    _latency_max_ns.assign(buckets, 0);
    _counters.assign(buckets, timeline_counters{});
    _last = timeline_counters{};
    _cursor_from_ns = 1;
    _cursor_to_ns = 0;
}

void timeline::start(uint64_t origin_ns) {
    _origin_ns = origin_ns;
    _cursor_from_ns = 1;
    _cursor_to_ns = 0;
}

uint32_t timeline::bucket_of(uint64_t now_ns) const {
    if (_origin_ns == 0 || now_ns < _origin_ns || _counters.empty()) return UINT32_MAX;
    uint64_t bucket = (now_ns - _origin_ns) / _bucket_ns;
    // Stragglers after the span (a long drain) count in the last bucket.
    return static_cast<uint32_t>(std::min<uint64_t>(bucket, _counters.size() - 1));
}

void timeline::record_latency(uint64_t now_ns, uint64_t latency_ns) {
    uint32_t bucket = _cursor;
    if (now_ns < _cursor_from_ns || now_ns >= _cursor_to_ns) {
        bucket = bucket_of(now_ns);
        if (bucket == UINT32_MAX) return;
        _cursor = bucket;
        _cursor_from_ns = _origin_ns + bucket * _bucket_ns;
        // The last bucket also takes everything after it.
        _cursor_to_ns = bucket + 1 == _counters.size() ? UINT64_MAX : _cursor_from_ns + _bucket_ns;
    }
    ++_latency[size_t{bucket} * latency_bucket_count + latency_index(latency_ns)];
    ++_latency_counts[bucket];
    if (latency_ns > _latency_max_ns[bucket]) _latency_max_ns[bucket] = latency_ns;
}

void timeline::record_counters(uint64_t now_ns, const timeline_counters& totals) {
    uint32_t bucket = bucket_of(now_ns);
    if (bucket == UINT32_MAX) {
        _last = totals;  // what happened before time zero is not part of the window
        return;
    }
    timeline_counters& into = _counters[bucket];
    into.sent += totals.sent - _last.sent;
    into.expected += totals.expected - _last.expected;
    into.received += totals.received - _last.received;
    into.gaps += totals.gaps - _last.gaps;
    _last = totals;
}

bool timeline::merge(const timeline& other) {
    if (other._counters.size() != _counters.size() || other._bucket_ns != _bucket_ns) return false;
    if (!other.started()) return true;
    if (started() && other._origin_ns != _origin_ns) return false;
    _origin_ns = other._origin_ns;
    for (size_t i = 0; i < _latency.size(); ++i) _latency[i] += other._latency[i];
    for (size_t b = 0; b < _counters.size(); ++b) {
        _latency_counts[b] += other._latency_counts[b];
        _latency_max_ns[b] = std::max(_latency_max_ns[b], other._latency_max_ns[b]);
        _counters[b].sent += other._counters[b].sent;
        _counters[b].expected += other._counters[b].expected;
        _counters[b].received += other._counters[b].received;
        _counters[b].gaps += other._counters[b].gaps;
    }
    return true;
}

uint32_t timeline::used_bucket_count() const {
    uint32_t used = 0;
    for (uint32_t b = 0; b < _counters.size(); ++b) {
        const timeline_counters& c = _counters[b];
        if (_latency_counts[b] || c.sent || c.expected || c.received || c.gaps) used = b + 1;
    }
    return used;
}

uint64_t timeline::latency_percentile_ns(uint32_t bucket, double q) const {
    uint64_t total = _latency_counts[bucket];
    if (total == 0) return 0;
    double wanted = q / 100.0 * static_cast<double>(total);
    uint64_t rank = static_cast<uint64_t>(wanted);
    if (static_cast<double>(rank) < wanted) ++rank;
    rank = std::clamp<uint64_t>(rank, 1, total);
    const uint32_t* counts = &_latency[size_t{bucket} * latency_bucket_count];
    uint64_t seen = 0;
    uint32_t index = 0;
    for (; index + 1 < latency_bucket_count; ++index) {
        seen += counts[index];
        if (seen >= rank) break;
    }
    uint64_t low = latency_lowest_ns(index);
    uint64_t middle = low + (latency_highest_ns(index) - low) / 2;
    return std::min(middle, _latency_max_ns[bucket]);
}

}  // namespace chorus::bench
