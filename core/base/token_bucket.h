// Per-connection rate limiter, kept to 16 bytes because every session holds one. Implemented as
// GCRA (the "virtual scheduling" form of a token bucket): instead of a token count it stores the
// time at which the bucket will be full again, so refilling costs no arithmetic on idle buckets.
#pragma once

#include <cstdint>

namespace chorus::base {

class token_bucket {
  public:
    // A default-constructed bucket does not limit: take() is always true.
    token_bucket() = default;

    // Refills `rate_per_second` tokens a second up to `burst` tokens, and starts full. A rate of 0
    // disables the limit; a burst of 0 is treated as 1 (a bucket must hold a token to pass one).
    // Rates above 10^9 per second are clamped to 10^9.
    token_bucket(uint32_t rate_per_second, uint32_t burst, uint64_t now_ns);

    // True if a token was available at `now_ns` (and takes it). `now_ns` comes from the monotonic
    // clock; a time before an earlier call is treated as that earlier time.
    bool take(uint64_t now_ns) {
        if (_interval_ns == 0) return true;
        uint64_t start = _full_at_ns > now_ns ? _full_at_ns : now_ns;
        uint64_t next = start + _interval_ns;
        if (next - now_ns > uint64_t{_interval_ns} * _burst) return false;
        _full_at_ns = next;
        return true;
    }

    uint32_t burst() const { return _burst; }

  private:
    uint64_t _full_at_ns = 0;   // when every token taken so far will have been refilled
    uint32_t _interval_ns = 0;  // time to refill one token; 0 = no limit
    uint32_t _burst = 0;
};

static_assert(sizeof(token_bucket) <= 16, "token_bucket lives in every session");

}  // namespace chorus::base
