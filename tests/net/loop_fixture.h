// The fixture of the event-loop suite (loop_test.cc): a parameter picks the backend, loops are
// started on demand and stopped in TearDown, and every test checks that no file descriptor
// leaked.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "tests/net/loop_test_harness.h"

namespace chorus::net::testing {

class LoopTest : public ::testing::TestWithParam<backend_kind> {
  protected:
    void SetUp() override {
        std::string why;
        if (GetParam() == backend_kind::uring && !uring_available(&why))
            GTEST_SKIP() << "io_uring unavailable: " << why;
        _fds_before = open_fd_count();
    }
    void TearDown() override {
        for (int fd : _clients) ::close(fd);
        for (auto& loop : _loops) EXPECT_TRUE(loop->stop()) << "run() did not return";
        _loops.clear();
        if (_fds_before >= 0) {
            EXPECT_EQ(open_fd_count(), _fds_before) << "file descriptors leaked";
        }
    }

    running_loop& start(loop_config config = {}) {
        _loops.push_back(std::make_unique<running_loop>(GetParam(), config));
        running_loop& loop = *_loops.back();
        EXPECT_TRUE(loop.loop) << loop.start_error;
        return loop;
    }
    int client(uint16_t port, int receive_buffer_bytes = 0) {
        int fd = connect_client(port, receive_buffer_bytes);
        EXPECT_GE(fd, 0) << "connect failed: " << std::strerror(errno);
        if (fd >= 0) _clients.push_back(fd);
        return fd;
    }
    void close_client(int fd) {
        ::close(fd);
        std::erase(_clients, fd);
    }
    // Waits for the `n`th accept and returns its handle.
    conn_handle accepted(running_loop& loop, size_t n = 1) {
        EXPECT_TRUE(loop.handler.wait([&] { return loop.handler.accepted.size() >= n; }));
        return loop.handler.with_lock([&] {
            return loop.handler.accepted.size() >= n ? loop.handler.accepted[n - 1] : conn_handle{};
        });
    }
    // The events of one connection, in order.
    std::vector<event_type> events_of(running_loop& loop, conn_handle conn) {
        return loop.handler.with_lock([&] {
            std::vector<event_type> out;
            for (const loop_event& e : loop.handler.events)
                if (e.conn == conn) out.push_back(e.type);
            return out;
        });
    }
    bool closed(running_loop& loop, conn_handle conn) {
        return loop.handler.wait([&] {
            for (const loop_event& e : loop.handler.events)
                if (e.conn == conn && e.type == event_type::closed) return true;
            return false;
        });
    }
    uint32_t connection_count(running_loop& loop) {
        uint32_t count = ~0u;
        EXPECT_TRUE(loop.handler.call([&] { count = loop.loop->connection_count(); }));
        return count;
    }

    int _fds_before = -1;
    std::vector<int> _clients;
    std::vector<std::unique_ptr<running_loop>> _loops;
};

}  // namespace chorus::net::testing
