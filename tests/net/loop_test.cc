// The event-loop suite, run against both backends (TEST_P): a loop on its own thread, a
// recording handler and real loopback sockets. Covers accept, echo, short writes, hangup, both
// close modes, detach/adopt across loops, wake, tick, stop, overload, many connections, stale
// handles, and file descriptors (every test checks that none leaked).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cstring>

#include "tests/net/loop_fixture.h"

namespace chorus::net {
namespace {

using namespace testing;

TEST_P(LoopTest, AcceptsAndEchoes) {
    running_loop& loop = start();
    uint16_t port = loop.listen();
    ASSERT_NE(port, 0);
    loop.start();
    int fd = client(port);
    conn_handle conn = accepted(loop);
    ASSERT_TRUE(conn.valid());
    ASSERT_TRUE(write_all(fd, "hello, loop"));
    EXPECT_EQ(read_exact(fd, 11), "hello, loop");
    EXPECT_TRUE(loop.handler.wait([&] { return loop.handler.bytes_sent(conn) == 11; }));
    EXPECT_GE(loop.handler.with_lock([&] { return loop.handler.count(event_type::sent); }), 1);
    EXPECT_EQ(connection_count(loop), 1u);
    bool alive = false;
    ASSERT_TRUE(loop.handler.call([&] { alive = loop.loop->alive(conn); }));
    EXPECT_TRUE(alive);
}

// 8 MiB to a client that does not read at first: the kernel takes part of it, so the handler
// sees short writes and re-sends the rest until everything arrives intact.
TEST_P(LoopTest, LargeSendCompletesThroughShortWrites) {
    running_loop& loop = start();
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port, 64 * 1024);
    conn_handle conn = accepted(loop);
    const std::string payload = pattern(8u << 20);
    loop.handler.post([&] { loop.handler.send_all(conn, payload); });
    // The first completion is short: the client has read nothing yet.
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.count(event_type::sent) >= 1; }));
    EXPECT_LT(loop.handler.with_lock([&] { return loop.handler.bytes_sent(conn); }),
              payload.size());
    std::string received = read_exact(fd, payload.size());
    ASSERT_EQ(received.size(), payload.size());
    EXPECT_TRUE(received == payload) << "the bytes arrived altered or out of order";
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.bytes_sent(conn) == payload.size(); }));
    EXPECT_GE(loop.handler.with_lock([&] { return loop.handler.count(event_type::sent); }), 2);
}

TEST_P(LoopTest, PeerCloseGivesHangupThenClosed) {
    running_loop& loop = start();
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port);
    conn_handle conn = accepted(loop);
    close_client(fd);
    ASSERT_TRUE(closed(loop, conn));
    std::vector<event_type> events = events_of(loop, conn);
    ASSERT_EQ(events, (std::vector<event_type>{event_type::accept, event_type::hangup,
                                               event_type::closed}));
    int error = loop.handler.with_lock([&] { return loop.handler.events[1].value; });
    EXPECT_EQ(error, 0);
    EXPECT_EQ(connection_count(loop), 0u);
}

// The reply is still in flight when close(graceful) is called; the peer keeps talking while
// the server closes. The client must get every byte and then a clean EOF, never a reset.
TEST_P(LoopTest, GracefulCloseDeliversTheReplyThenEof) {
    loop_config config;
    config.linger_ms = 5000;
    running_loop& loop = start(config);
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port);
    conn_handle conn = accepted(loop);
    const std::string reply = pattern(2000);
    loop.handler.post([&] { loop.handler.send_then_close(conn, reply); });
    ASSERT_EQ(read_exact(fd, 100), reply.substr(0, 100));
    ASSERT_TRUE(write_all(fd, std::string(3000, 'x')));  // unread input must not cause a reset
    std::string rest;
    EXPECT_EQ(read_to_end(fd, &rest), 0) << "expected EOF";
    EXPECT_TRUE(reply.substr(100) == rest);
    close_client(fd);
    ASSERT_TRUE(closed(loop, conn));
    EXPECT_EQ(events_of(loop, conn).back(), event_type::closed);
}

// Closing twice gracefully must not turn the second call into an abort (close is idempotent):
// the connection keeps lingering, reading and discarding, until the peer closes.
TEST_P(LoopTest, SecondGracefulCloseKeepsLingering) {
    loop_config config;
    config.linger_ms = 5000;
    running_loop& loop = start(config);
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port);
    conn_handle conn = accepted(loop);
    ASSERT_TRUE(loop.handler.call([&] {
        loop.loop->close(conn, close_mode::graceful);
        loop.loop->close(conn, close_mode::graceful);
    }));
    // A few passes, so that any cancellation the second call started has completed.
    for (int pass = 0; pass < 3; ++pass) ASSERT_TRUE(loop.handler.call([] {}));
    bool alive = false;
    ASSERT_TRUE(loop.handler.call([&] { alive = loop.loop->alive(conn); }));
    EXPECT_TRUE(alive) << "the second graceful close ended the linger at once";
    EXPECT_EQ(loop.handler.with_lock([&] { return loop.handler.count(event_type::closed); }), 0);
    ASSERT_TRUE(write_all(fd, std::string(1000, 'y')));  // discarded while lingering
    std::string rest;
    EXPECT_EQ(read_to_end(fd, &rest), 0) << "expected a clean EOF";
    EXPECT_TRUE(rest.empty());
    close_client(fd);
    ASSERT_TRUE(closed(loop, conn));
    EXPECT_EQ(loop.handler.with_lock([&] { return loop.handler.count(event_type::closed); }), 1);
}

// close(abort) with a send in flight to a client that does not read: the send is cancelled,
// the slot is freed and the client sees the stream end early.
TEST_P(LoopTest, AbortCloseWithSendInFlight) {
    running_loop& loop = start();
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port, 64 * 1024);
    conn_handle conn = accepted(loop);
    const std::string payload = pattern(8u << 20);
    loop.handler.post([&] { loop.handler.send_all(conn, payload); });
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.count(event_type::sent) >= 1; }));
    ASSERT_TRUE(loop.handler.call([&] { loop.loop->close(conn, close_mode::abort); }));
    ASSERT_TRUE(closed(loop, conn));
    std::string received;
    int end = read_to_end(fd, &received);
    EXPECT_TRUE(end == 0 || end == ECONNRESET) << std::strerror(end);
    EXPECT_LT(received.size(), payload.size());
    EXPECT_EQ(connection_count(loop), 0u);
}

// The server's cross-core handoff: loop A detaches, loop B adopts the fd on its own thread
// and the same TCP connection carries on there.
TEST_P(LoopTest, DetachedConnectionMovesToAnotherLoop) {
    running_loop& first = start();
    first.handler.detach_word = "move";
    running_loop& second = start();
    uint16_t port = first.listen();
    first.start();
    second.start();
    int fd = client(port);
    conn_handle old_conn = accepted(first);
    ASSERT_TRUE(write_all(fd, "ping"));
    ASSERT_EQ(read_exact(fd, 4), "ping");
    ASSERT_TRUE(write_all(fd, "move"));
    ASSERT_TRUE(first.handler.wait([&] { return !first.handler.detached_fds.empty(); }));
    int moved = first.handler.with_lock([&] { return first.handler.detached_fds[0]; });
    ASSERT_GE(moved, 0);
    EXPECT_EQ(events_of(first, old_conn).back(), event_type::detached);
    EXPECT_EQ(connection_count(first), 0u);
    conn_handle new_conn;
    ASSERT_TRUE(second.handler.call([&] { new_conn = second.loop->adopt(moved); }));
    ASSERT_TRUE(new_conn.valid());
    ASSERT_TRUE(write_all(fd, "after the move"));
    EXPECT_EQ(read_exact(fd, 14), "after the move");
    EXPECT_EQ(connection_count(second), 1u);
    bool old_alive = true;
    ASSERT_TRUE(first.handler.call([&] { old_alive = first.loop->alive(old_conn); }));
    EXPECT_FALSE(old_alive);
    close_client(fd);
    ASSERT_TRUE(closed(second, new_conn));
}

// The peer keeps sending while its connection moves: every byte must reach one loop or the
// other (or come along with the data that triggered the detach), none may be lost.
// Disabled: a known limit, documented in net/loop.h (io_uring drops bytes its multishot
// receive took while detaching; WebSocket clients wait for the 101 before sending).
TEST_P(LoopTest, DISABLED_DetachWhileThePeerSendsLosesNoBytes) {
    running_loop& first = start();
    first.handler.detach_word = "move";
    running_loop& second = start();
    second.handler.keep_bytes = true;
    second.handler.hangup_close = close_mode::abort;
    uint16_t port = first.listen();
    first.start();
    second.start();
    int fd = client(port);
    accepted(first);
    const std::string stream = pattern(256 * 1024);
    ASSERT_TRUE(write_all(fd, "move"));
    for (size_t at = 0; at < stream.size(); at += 4096)
        ASSERT_TRUE(write_all(fd, stream.substr(at, 4096)));
    ASSERT_TRUE(first.handler.wait([&] { return !first.handler.detached_fds.empty(); }));
    int moved = first.handler.with_lock([&] { return first.handler.detached_fds[0]; });
    conn_handle new_conn;
    ASSERT_TRUE(second.handler.call([&] { new_conn = second.loop->adopt(moved); }));
    ASSERT_TRUE(new_conn.valid());
    ::shutdown(fd, SHUT_WR);
    ASSERT_TRUE(closed(second, new_conn));
    std::string carried = first.handler.with_lock([&] { return first.handler.carried; });
    std::string received = second.handler.with_lock([&] { return second.handler.received; });
    EXPECT_EQ(carried.size() + received.size(), stream.size()) << "bytes lost in the move";
    EXPECT_TRUE(carried + received == stream);
}

TEST_P(LoopTest, WakeFromAnotherThread) {
    running_loop& loop = start();
    loop.start();
    std::thread waker([&] { loop.loop->wake(); });
    waker.join();
    EXPECT_TRUE(loop.handler.wait([&] { return loop.handler.wakes >= 1; }));
    // Wakes before run() are not lost either.
    running_loop& later = start();
    later.loop->wake();
    later.start();
    EXPECT_TRUE(later.handler.wait([&] { return later.handler.wakes >= 1; }));
}

TEST_P(LoopTest, TicksPeriodically) {
    loop_config config;
    config.tick_ms = 5;
    running_loop& loop = start(config);
    // Taken before the loop runs: a test thread descheduled after start() must not miss ticks.
    auto begin = std::chrono::steady_clock::now();
    loop.start();
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.ticks >= 20; }));
    // Each tick is due 5 ms after the last on a whole-millisecond clock, so more than 4 ms
    // after it: 20 ticks cannot come in 80 ms or less.
    EXPECT_GT(std::chrono::steady_clock::now() - begin, 80ms);
}

TEST_P(LoopTest, StopFromAnotherThreadEndsRun) {
    running_loop& loop = start();
    loop.start();
    ASSERT_TRUE(loop.handler.call([] {}));  // running
    std::thread stopper([&] { loop.loop->stop(); });
    stopper.join();
    EXPECT_TRUE(loop.stop());
}

TEST_P(LoopTest, FullSlabAnswersWithTheOverloadResponse) {
    loop_config config;
    config.connections_max = 2;
    config.overload_response = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
    running_loop& loop = start(config);
    uint16_t port = loop.listen();
    loop.start();
    int first = client(port);
    int second = client(port);
    accepted(loop, 2);
    int third = client(port);
    std::string answer;
    int end = read_to_end(third, &answer);
    EXPECT_TRUE(end == 0 || end == ECONNRESET) << std::strerror(end);
    EXPECT_EQ(answer, config.overload_response);
    // The two accepted connections still work; the refused one was never reported.
    ASSERT_TRUE(write_all(first, "one"));
    EXPECT_EQ(read_exact(first, 3), "one");
    ASSERT_TRUE(write_all(second, "two"));
    EXPECT_EQ(read_exact(second, 3), "two");
    EXPECT_EQ(loop.handler.with_lock([&] { return loop.handler.accepted.size(); }), 2u);
    // A freed slot accepts again.
    close_client(first);
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.count(event_type::closed) == 1; }));
    int fourth = client(port);
    accepted(loop, 3);
    ASSERT_TRUE(write_all(fourth, "four"));
    EXPECT_EQ(read_exact(fourth, 4), "four");
}

TEST_P(LoopTest, ManyConnectionsAtOnce) {
    constexpr int count = 500;
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < 2 * count + 64) GTEST_SKIP() << "RLIMIT_NOFILE too low";
    loop_config config;
    config.connections_max = 1024;
    running_loop& loop = start(config);
    uint16_t port = loop.listen();
    loop.start();
    std::vector<int> fds;
    for (int i = 0; i < count; ++i) fds.push_back(client(port));
    accepted(loop, count);
    for (int i = 0; i < count; ++i) ASSERT_TRUE(write_all(fds[i], "#" + std::to_string(1000 + i)));
    for (int i = 0; i < count; ++i)
        ASSERT_EQ(read_exact(fds[i], 5), "#" + std::to_string(1000 + i));
    EXPECT_EQ(connection_count(loop), uint32_t(count));
    for (int fd : fds) close_client(fd);
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.count(event_type::closed) == count; }));
    EXPECT_EQ(connection_count(loop), 0u);
}

TEST_P(LoopTest, StaleHandlesAreIgnored) {
    running_loop& loop = start();
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port);
    conn_handle old_conn = accepted(loop);
    close_client(fd);
    ASSERT_TRUE(closed(loop, old_conn));
    // The next connection reuses the slot under a new generation.
    int next = client(port);
    conn_handle new_conn = accepted(loop, 2);
    EXPECT_EQ(new_conn.index, old_conn.index);
    EXPECT_NE(new_conn.generation, old_conn.generation);
    const char byte = 'z';
    ASSERT_TRUE(loop.handler.call([&] {
        iovec iov{const_cast<char*>(&byte), 1};
        EXPECT_FALSE(loop.loop->send(old_conn, &iov, 1));
        EXPECT_FALSE(loop.loop->alive(old_conn));
        EXPECT_TRUE(loop.loop->alive(new_conn));
        loop.loop->close(old_conn, close_mode::abort);
        loop.loop->close(old_conn, close_mode::graceful);
        loop.loop->detach(old_conn);
        conn_handle beyond{1u << 30, 1};
        EXPECT_FALSE(loop.loop->alive(beyond));
        EXPECT_FALSE(loop.loop->send(beyond, &iov, 1));
        loop.loop->close(beyond, close_mode::abort);
        EXPECT_FALSE(loop.loop->alive(conn_handle{}));
    }));
    ASSERT_TRUE(loop.handler.call([] {}));  // one more pass: anything deferred is reported
    EXPECT_EQ(loop.handler.with_lock([&] { return loop.handler.count(event_type::closed); }), 1);
    EXPECT_EQ(loop.handler.with_lock([&] { return loop.handler.count(event_type::detached); }), 0);
    ASSERT_TRUE(write_all(next, "still here"));
    EXPECT_EQ(read_exact(next, 10), "still here");
}

// Connections ended every way give their descriptors back while the loop keeps running.
TEST_P(LoopTest, NoDescriptorLeaksWhileRunning) {
    loop_config config;
    config.linger_ms = 5000;
    running_loop& loop = start(config);
    uint16_t port = loop.listen();
    loop.start();
    ASSERT_TRUE(loop.handler.call([] {}));
    int baseline = open_fd_count();
    for (int round = 0; round < 3; ++round) {
        int by_peer = client(port);
        int by_abort = client(port);
        int by_graceful = client(port);
        size_t base = 3 * static_cast<size_t>(round);
        conn_handle peer_conn = accepted(loop, base + 1);
        conn_handle abort_conn = accepted(loop, base + 2);
        conn_handle graceful_conn = accepted(loop, base + 3);
        (void)peer_conn;
        ASSERT_TRUE(loop.handler.call([&] {
            loop.loop->close(abort_conn, close_mode::abort);
            loop.loop->close(graceful_conn, close_mode::graceful);
        }));
        close_client(by_peer);
        std::string ignored;
        read_to_end(by_abort, &ignored);
        read_to_end(by_graceful, &ignored);
        close_client(by_abort);
        close_client(by_graceful);
        ASSERT_TRUE(loop.handler.wait(
            [&] { return loop.handler.count(event_type::closed) == static_cast<int>(base + 3); }));
    }
    EXPECT_EQ(open_fd_count(), baseline);
    EXPECT_EQ(connection_count(loop), 0u);
}

TEST_P(LoopTest, CloseListenersRefusesNewConnections) {
    running_loop& loop = start();
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port);
    accepted(loop);
    ASSERT_TRUE(loop.handler.call([&] { loop.loop->close_listeners(); }));
    ASSERT_TRUE(loop.handler.call([] {}));  // the cancellation completes
    EXPECT_EQ(connect_client(port), -1);
    EXPECT_EQ(errno, ECONNREFUSED);
    ASSERT_TRUE(write_all(fd, "open"));  // existing connections are untouched
    EXPECT_EQ(read_exact(fd, 4), "open");
}

// A draining server stops the loop right after closing its listeners: the port must stop
// listening when close_listeners() returns, not when the backend gets round to letting go of the
// socket (io_uring: its accept in flight holds it, possibly until after the process has exited),
// or a connection queued on it meanwhile is reset.
TEST_P(LoopTest, CloseListenersStopsListeningBeforeReturning) {
    running_loop& loop = start();
    uint16_t port = loop.listen();
    loop.start();
    client(port);
    accepted(loop);
    int refused_errno = 0;
    int connected = 0;
    ASSERT_TRUE(loop.handler.call([&] {
        loop.loop->close_listeners();
        connected = connect_client(port);  // on the loop thread: before any further pass
        refused_errno = errno;
    }));
    EXPECT_EQ(connected, -1);
    EXPECT_EQ(refused_errno, ECONNREFUSED);
    if (connected >= 0) ::close(connected);
}

// The prefix starts with "Loop" so that the filter Loop* (the TSan run) selects the suite.
INSTANTIATE_TEST_SUITE_P(Loop, LoopTest,
                         ::testing::Values(backend_kind::uring, backend_kind::epoll),
                         [](const ::testing::TestParamInfo<backend_kind>& info) {
                             return std::string(backend_name(info.param));
                         });

}  // namespace
}  // namespace chorus::net

namespace chorus::net {
namespace {

// A tiny per-pass read budget throttles a fast sender (its receive is paused until the next
// pass) but never loses or reorders a byte.
TEST_P(LoopTest, ReadBudgetThrottlesWithoutLosingBytes) {
    loop_config config;
    config.recv_bytes_per_pass_max = 4096;
    running_loop& loop = start(config);
    uint16_t port = loop.listen();
    loop.start();
    int fd = client(port);
    conn_handle conn = accepted(loop);
    ASSERT_TRUE(conn.valid());
    const std::string data = pattern(2u << 20);
    std::thread writer([&] { write_all(fd, data); });
    std::string echoed = read_exact(fd, data.size());
    writer.join();
    EXPECT_TRUE(echoed == data) << "bytes lost or reordered under the read budget";
}

// A graceful close while the read budget has throttled the receive (io_uring: its cancel still
// in flight) must keep draining what the peer sends until the peer closes, never close with
// unread input: that is a reset, and the peer loses the reply before it reads it.
TEST_P(LoopTest, GracefulCloseOfAThrottledReaderStillEndsWithEof) {
    loop_config config;
    config.recv_bytes_per_pass_max = 1024;
    config.linger_ms = 30000;
    running_loop& loop = start(config);
    loop.handler.keep_bytes = true;
    uint16_t port = loop.listen();
    loop.start();
    for (size_t round = 1; round <= 20; ++round) {
        int fd = client(port);
        conn_handle conn = accepted(loop, round);
        ASSERT_TRUE(conn.valid());
        std::atomic<bool> stop{false};
        std::thread writer([&] {
            const std::string chunk(4096, 'x');
            while (!stop.load() && write_all(fd, chunk)) {
            }
        });
        size_t before = loop.handler.with_lock([&] { return loop.handler.received.size(); });
        ASSERT_TRUE(
            loop.handler.wait([&] { return loop.handler.received.size() > before + 65536; }));
        loop.handler.post([&loop, conn] { loop.handler.send_then_close(conn, "bye"); });
        std::string rest;
        int result = read_to_end(fd, &rest);
        stop = true;
        ::shutdown(fd, SHUT_RDWR);  // ends a send blocked on a full window
        writer.join();
        EXPECT_EQ(result, 0) << "round " << round << ": " << std::strerror(result);
        EXPECT_EQ(rest, "bye") << "round " << round;
        close_client(fd);
        ASSERT_TRUE(closed(loop, conn));
        if (HasFailure()) break;
    }
}

}  // namespace
}  // namespace chorus::net
