// Paced sending: frame k of a sender is due at start + k * interval, computed from k each time so
// rounding never accumulates drift.
#include "bench/chorus_bench/pacer.h"

#include <cmath>

namespace chorus::bench {

pacer::pacer(double rate, uint64_t start_ns, uint64_t offset_ns, uint32_t burst_max)
    : _start_ns(start_ns + offset_ns),
      _interval_ns(static_cast<uint64_t>(std::llround(1e9 / (rate > 0 ? rate : 1e-9)))),
      _burst_max(burst_max == 0 ? 1 : burst_max) {
    if (_interval_ns == 0) _interval_ns = 1;
}

uint32_t pacer::due(uint64_t now_ns) {
    if (now_ns < _start_ns) return 0;
    uint64_t owed_total = (now_ns - _start_ns) / _interval_ns + 1;  // frames 0..owed_total-1
    if (owed_total <= _next_index) return 0;
    uint64_t owed = owed_total - _next_index;
    if (owed > _burst_max) {
        _skipped += owed - _burst_max;
        owed = _burst_max;
    }
    _next_index = owed_total;
    _emitted += owed;
    return static_cast<uint32_t>(owed);
}

uint64_t pacer::next_ns() const {
    return _start_ns + _next_index * _interval_ns;
}

uint64_t pacer::stagger_ns(double rate, uint64_t index, uint64_t count) {
    if (count == 0 || rate <= 0) return 0;
    double interval = 1e9 / rate;
    return static_cast<uint64_t>(interval * static_cast<double>(index % count) /
                                 static_cast<double>(count));
}

}  // namespace chorus::bench
