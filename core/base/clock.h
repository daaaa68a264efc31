// Time sources. Timers, rate limits and latency measurements use the monotonic clock (never goes
// back, unaffected by NTP steps); only token expiry and logs use wall-clock unix seconds.
#pragma once

#include <time.h>

#include <cstdint>

namespace chorus::base {

inline uint64_t monotonic_ns() {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

inline uint64_t monotonic_us() {
    return monotonic_ns() / 1'000u;
}

inline uint64_t monotonic_ms() {
    return monotonic_ns() / 1'000'000u;
}

// Milliseconds from `then` to `now` on a 32-bit millisecond clock: modular, so it survives the
// wrap after 49 days, and never negative, so a stamp taken (or rounded up) after `now` counts
// as no time at all rather than as 49 days.
inline uint32_t elapsed_ms(uint32_t now, uint32_t then) {
    int32_t elapsed = static_cast<int32_t>(now - then);
    return elapsed > 0 ? static_cast<uint32_t>(elapsed) : 0;
}

inline int64_t unix_seconds() {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<int64_t>(now.tv_sec);
}

}  // namespace chorus::base
