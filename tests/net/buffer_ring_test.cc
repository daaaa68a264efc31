// Tests for buffer_ring against a real io_uring: the ring starts with `initial` buffers, a
// receive that finds none gets -ENOBUFS, and grow() provides more (doubling up to `count`), after
// which the waiting bytes arrive in a buffer the kernel had never had.
#include "net/buffer_ring.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>

#include "net/loop.h"

namespace chorus::net {
namespace {

class BufferRingTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string why;
        if (!uring_available(&why)) GTEST_SKIP() << "io_uring unavailable: " << why;
        ASSERT_EQ(io_uring_queue_init(64, &_ring, 0), 0);
        _ring_ready = true;
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, _pair), 0);
    }
    void TearDown() override {
        if (_pair[0] >= 0) ::close(_pair[0]);
        if (_pair[1] >= 0) ::close(_pair[1]);
        if (_ring_ready) io_uring_queue_exit(&_ring);
    }
    void arm() {
        io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
        ASSERT_NE(sqe, nullptr);
        io_uring_prep_recv_multishot(sqe, _pair[0], nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffer_ring::group;
        ASSERT_EQ(io_uring_submit(&_ring), 1);
    }
    // Sends one byte and returns its completion: the buffer id, or -errno.
    int send_and_complete() {
        EXPECT_EQ(::write(_pair[1], "x", 1), 1);
        io_uring_cqe* cqe = nullptr;
        EXPECT_EQ(io_uring_wait_cqe(&_ring, &cqe), 0);
        int res = cqe->res;
        int id =
            (cqe->flags & IORING_CQE_F_BUFFER) ? int(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
        io_uring_cqe_seen(&_ring, cqe);
        if (res < 0) return res;
        EXPECT_EQ(res, 1);
        return id;
    }

    io_uring _ring{};
    bool _ring_ready = false;
    int _pair[2] = {-1, -1};
};

TEST_F(BufferRingTest, StartsSmallAndGrowsWhenAReceiveFindsItEmpty) {
    buffer_ring buffers;
    std::string error;
    ASSERT_TRUE(buffers.init(&_ring, &error)) << error;
    EXPECT_EQ(buffers.provided(), buffer_ring::initial);
    arm();
    std::set<int> used;
    for (uint32_t i = 0; i < buffer_ring::initial; ++i) {
        int id = send_and_complete();  // kept, never recycled: the ring runs dry
        ASSERT_GE(id, 0);
        EXPECT_LT(id, int(buffer_ring::initial));
        used.insert(id);
    }
    EXPECT_EQ(used.size(), buffer_ring::initial);
    ASSERT_EQ(send_and_complete(), -ENOBUFS);  // the byte waits in the socket

    ASSERT_TRUE(buffers.grow());
    EXPECT_EQ(buffers.provided(), 2 * buffer_ring::initial);
    buffers.publish();
    arm();
    io_uring_cqe* cqe = nullptr;
    ASSERT_EQ(io_uring_wait_cqe(&_ring, &cqe), 0);
    ASSERT_EQ(cqe->res, 1);  // the waiting byte
    ASSERT_TRUE(cqe->flags & IORING_CQE_F_BUFFER);
    int id = int(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    io_uring_cqe_seen(&_ring, cqe);
    EXPECT_GE(id, int(buffer_ring::initial));
    EXPECT_LT(id, int(2 * buffer_ring::initial));
    EXPECT_EQ(buffers.data(static_cast<uint16_t>(id))[0], 'x');
}

TEST_F(BufferRingTest, GrowsByDoublingUpToCount) {
    buffer_ring buffers;
    std::string error;
    ASSERT_TRUE(buffers.init(&_ring, &error)) << error;
    uint32_t expected = buffer_ring::initial;
    while (expected < buffer_ring::count) {
        ASSERT_TRUE(buffers.grow());
        expected = std::min(buffer_ring::count, expected * 2);
        EXPECT_EQ(buffers.provided(), expected);
        buffers.publish();
    }
    EXPECT_FALSE(buffers.grow());
    EXPECT_EQ(buffers.provided(), buffer_ring::count);
}

}  // namespace
}  // namespace chorus::net
