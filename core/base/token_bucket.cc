// token_bucket construction: converts a per-second rate to the refill interval GCRA works with.
#include "core/base/token_bucket.h"

namespace chorus::base {

token_bucket::token_bucket(uint32_t rate_per_second, uint32_t burst, uint64_t now_ns)
    : _full_at_ns(now_ns), _interval_ns(0), _burst(burst == 0 ? 1 : burst) {
    constexpr uint32_t ns_per_second = 1'000'000'000u;
    if (rate_per_second == 0) return;
    if (rate_per_second > ns_per_second) rate_per_second = ns_per_second;
    _interval_ns = ns_per_second / rate_per_second;
}

}  // namespace chorus::base
