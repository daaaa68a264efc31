// The clock helpers: elapsed_ms is what every shard timer (handshake, ping, idle, a stuck close
// frame) compares against its limit, so its edge cases are pinned here.
#include "core/base/clock.h"

#include <gtest/gtest.h>

namespace chorus::base {
namespace {

TEST(ElapsedMs, CountsForward) {
    EXPECT_EQ(elapsed_ms(1000, 1000), 0u);
    EXPECT_EQ(elapsed_ms(1001, 1000), 1u);
    EXPECT_EQ(elapsed_ms(4000, 1000), 3000u);
}

TEST(ElapsedMs, StampAfterNowIsNoTime) {
    // A stamp rounded up to an odd value in the same millisecond as `now` (the regression: an
    // unsigned difference made this 4294967295 ms and reset the connection at once).
    EXPECT_EQ(elapsed_ms(6420, 6421), 0u);
    EXPECT_EQ(elapsed_ms(0, 1), 0u);
    EXPECT_EQ(elapsed_ms(100, 5000), 0u);
}

TEST(ElapsedMs, SurvivesTheWrapOfTheMillisecondClock) {
    EXPECT_EQ(elapsed_ms(5, 0xFFFFFFF0u), 21u);
    EXPECT_EQ(elapsed_ms(0, 0xFFFFFFFFu), 1u);
}

}  // namespace
}  // namespace chorus::base
