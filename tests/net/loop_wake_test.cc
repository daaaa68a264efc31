// The loop's own timer: an owner that asks to be woken (wake_by_ms, the audio clock's window) gets
// a pass by then, with nothing else to wake the loop, on both backends and under TLS.
#include <gtest/gtest.h>

#include "core/base/clock.h"
#include "net/tls/tls_context.h"
#include "tests/net/loop_test_harness.h"

namespace chorus::net {
namespace {

using namespace testing;

class LoopWakeTest : public ::testing::TestWithParam<backend_kind> {
  protected:
    void SetUp() override {
        std::string why;
        if (GetParam() == backend_kind::uring && !uring_available(&why))
            GTEST_SKIP() << "io_uring unavailable: " << why;
    }
    // A tick far beyond the test's wait: only the owner's deadline can end the loop's sleep.
    static loop_config sleepy() {
        loop_config config;
        config.tick_ms = 3'600'000;
        return config;
    }
    static void expect_woken(running_loop& loop) {
        ASSERT_TRUE(loop.loop) << loop.start_error;
        loop.start();
        // The call's own wake begins a pass; the deadline must end the sleep after it.
        ASSERT_TRUE(loop.handler.call([&] { loop.handler.wake_by = base::monotonic_ms() + 50; }));
        EXPECT_TRUE(loop.handler.wait([&] { return loop.handler.passes_past_wake_by > 0; }));
        EXPECT_EQ(loop.handler.with_lock([&] { return loop.handler.ticks; }), 0u);
    }
};

TEST_P(LoopWakeTest, WakesByTheOwnersDeadlineLongBeforeTheTick) {
    running_loop loop(GetParam(), sleepy());
    expect_woken(loop);
}

TEST_P(LoopWakeTest, TheTlsDecoratorPassesTheDeadlineOn) {
    std::string fingerprint, error;
    tls::context_ptr context = tls::make_self_signed_context({"127.0.0.1"}, &fingerprint, &error);
    ASSERT_TRUE(context) << error;
    tls::server_contexts contexts(std::move(context));
    running_loop loop(GetParam(), sleepy(), &contexts);
    expect_woken(loop);
}

// The prefix starts with "Loop" so that the filter Loop* (the TSan run) selects the suite.
INSTANTIATE_TEST_SUITE_P(Loop, LoopWakeTest,
                         ::testing::Values(backend_kind::uring, backend_kind::epoll),
                         [](const ::testing::TestParamInfo<backend_kind>& info) {
                             return std::string(backend_name(info.param));
                         });

}  // namespace
}  // namespace chorus::net
