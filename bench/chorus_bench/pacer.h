// Paced sending: how many frames a sender owes at a given time, so that speakers send at their
// rate (not as fast as possible) with their start times spread over one interval. Pure logic on
// caller-supplied timestamps, so it is unit-tested without clocks.
#pragma once

#include <cstdint>

namespace chorus::bench {

class pacer {
  public:
    pacer() = default;
    // rate: frames per second (> 0). The first frame is due at start_ns + offset_ns. A sender that
    // falls behind catches up at most burst_max frames per call; the rest are skipped (counted in
    // skipped()) so that a stalled sender does not flood the server afterwards.
    pacer(double rate, uint64_t start_ns, uint64_t offset_ns, uint32_t burst_max);

    // Frames due at `now_ns` since the last call (0 before the start).
    uint32_t due(uint64_t now_ns);
    // When the next frame is due (for sleeping until then).
    uint64_t next_ns() const;
    uint64_t sent() const { return _emitted; }
    uint64_t skipped() const { return _skipped; }
    uint64_t interval_ns() const { return _interval_ns; }

    // The start offset of sender `index` of `count`: spread evenly over one interval.
    static uint64_t stagger_ns(double rate, uint64_t index, uint64_t count);

  private:
    uint64_t _start_ns = 0;
    uint64_t _interval_ns = 0;
    uint64_t _next_index = 0;  // frames due or skipped so far
    uint64_t _emitted = 0;
    uint64_t _skipped = 0;
    uint32_t _burst_max = 1;
};

}  // namespace chorus::bench
