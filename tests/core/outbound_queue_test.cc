// Tests for outbound_queue: the byte stream that fill() describes after consume() at every
// offset (partial writes), growth past the first capacity while the ring has wrapped, clear,
// shrink, and byte and reference accounting against the frame pool.
#include "core/outbound_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace chorus::core {
namespace {

// Pushes a frame holding `bytes` and drops the caller's reference: the queue holds the only one.
void push_bytes(frame_pool& pool, outbound_queue& queue, const std::string& bytes) {
    shared_frame* frame = pool.allocate(bytes.size());
    std::memcpy(frame->data(), bytes.data(), bytes.size());
    frame->size = static_cast<uint32_t>(bytes.size());
    queue.push(pool, frame);
    pool.release(frame);
}

// The bytes the next send would write (all of them, whatever the iovec count).
std::string queued(const outbound_queue& queue) {
    std::vector<iovec> iov(queue.frames() + 1);
    int n = queue.fill(iov.data(), static_cast<int>(iov.size()));
    EXPECT_EQ(static_cast<uint32_t>(n), queue.frames());
    std::string out;
    for (int i = 0; i < n; ++i)
        out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
}

std::vector<std::string> sample_frames() {
    return {"a", std::string(300, 'b'), "cd", std::string(1500, 'e'), "fgh", std::string(70, 'i')};
}

TEST(OutboundQueue, StartsEmpty) {
    frame_pool pool;
    outbound_queue queue;
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
    EXPECT_EQ(queue.frames(), 0u);
    iovec iov[4] = {};
    EXPECT_EQ(queue.fill(iov, 4), 0);
    queue.consume(pool, 0);
    queue.shrink();
    EXPECT_TRUE(queue.empty());
}

TEST(OutboundQueue, ConsumeAtEveryOffset) {
    std::string all;
    for (const std::string& f : sample_frames()) all += f;
    for (size_t written = 0; written <= all.size(); ++written) {
        frame_pool pool;
        outbound_queue queue;
        for (const std::string& f : sample_frames()) push_bytes(pool, queue, f);
        ASSERT_EQ(queue.bytes(), all.size());
        queue.consume(pool, written);
        ASSERT_EQ(queue.bytes(), all.size() - written) << written;
        ASSERT_EQ(queued(queue), all.substr(written)) << written;
        // Frames fully written are released back to the pool.
        ASSERT_EQ(pool.frames_live(), queue.frames()) << written;
        queue.clear(pool);
        ASSERT_EQ(pool.frames_live(), 0u);
    }
}

TEST(OutboundQueue, PartialWritesInEverySplitKeepTheStream) {
    std::string all;
    for (const std::string& f : sample_frames()) all += f;
    std::mt19937 random(7);
    for (int trial = 0; trial < 300; ++trial) {
        frame_pool pool;
        outbound_queue queue;
        for (const std::string& f : sample_frames()) push_bytes(pool, queue, f);
        std::string sent;
        while (!queue.empty()) {
            // Writes of 1..600 bytes, limited to what fill() offered in at most 3 iovecs.
            iovec iov[3] = {};
            int n = queue.fill(iov, 3);
            size_t offered = 0;
            for (int i = 0; i < n; ++i) offered += iov[i].iov_len;
            size_t written = std::min<size_t>(offered, 1 + random() % 600);
            size_t left = written;
            for (int i = 0; i < n && left > 0; ++i) {
                size_t take = std::min(left, iov[i].iov_len);
                sent.append(static_cast<const char*>(iov[i].iov_base), take);
                left -= take;
            }
            queue.consume(pool, written);
            ASSERT_EQ(queue.bytes(), all.size() - sent.size());
        }
        ASSERT_EQ(sent, all);
        ASSERT_EQ(pool.frames_live(), 0u);
    }
}

TEST(OutboundQueue, GrowsPastCapacityWhileWrapped) {
    frame_pool pool;
    outbound_queue queue;
    std::string expected;
    uint32_t next = 0;
    auto push_next = [&] {
        std::string bytes = "<" + std::to_string(next++) + ">";
        expected += bytes;
        push_bytes(pool, queue, bytes);
    };
    auto consume_frames = [&](int count) {
        for (int i = 0; i < count; ++i) {
            iovec iov[1] = {};
            ASSERT_EQ(queue.fill(iov, 1), 1);
            size_t length = iov[0].iov_len;
            queue.consume(pool, length);
            expected.erase(0, length);
        }
    };
    // Move the head well into the first 8-slot array, then fill it so the tail wraps, then grow
    // several times with the head not at zero.
    for (int i = 0; i < 6; ++i) push_next();
    consume_frames(5);
    for (int i = 0; i < 7; ++i) push_next();  // 8 queued, wrapped
    ASSERT_EQ(queue.frames(), 8u);
    ASSERT_EQ(queued(queue), expected);
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 50; ++i) push_next();
        ASSERT_EQ(queued(queue), expected);
        consume_frames(23);
        ASSERT_EQ(queued(queue), expected);
        ASSERT_EQ(queue.bytes(), expected.size());
    }
    // A partial write of the head survives growth.
    queue.consume(pool, 1);
    expected.erase(0, 1);
    for (int i = 0; i < 300; ++i) push_next();
    ASSERT_EQ(queued(queue), expected);
    EXPECT_EQ(pool.frames_live(), queue.frames());
    queue.clear(pool);
    EXPECT_EQ(pool.frames_live(), 0u);
}

TEST(OutboundQueue, FillStopsAtMax) {
    frame_pool pool;
    outbound_queue queue;
    for (int i = 0; i < 10; ++i) push_bytes(pool, queue, std::string(1, char('a' + i)));
    queue.consume(pool, 1);
    iovec iov[4] = {};
    ASSERT_EQ(queue.fill(iov, 4), 4);
    EXPECT_EQ(*static_cast<const char*>(iov[0].iov_base), 'b');
    EXPECT_EQ(*static_cast<const char*>(iov[3].iov_base), 'e');
    queue.clear(pool);
}

TEST(OutboundQueue, SharedFramesKeepTheirReferences) {
    frame_pool pool;
    shared_frame* frame = pool.allocate(10);
    std::memcpy(frame->data(), "0123456789", 10);
    frame->size = 10;
    outbound_queue first;
    outbound_queue second;
    first.push(pool, frame);
    second.push(pool, frame);
    EXPECT_EQ(frame->refs, 3u);
    first.consume(pool, 10);
    EXPECT_EQ(frame->refs, 2u);
    second.consume(pool, 4);
    EXPECT_EQ(queued(second), "456789");
    second.clear(pool);
    EXPECT_EQ(frame->refs, 1u);
    pool.release(frame);
    EXPECT_EQ(pool.frames_live(), 0u);
}

TEST(OutboundQueue, ClearReleasesEverything) {
    frame_pool pool;
    outbound_queue queue;
    for (int i = 0; i < 20; ++i) push_bytes(pool, queue, std::string(100, 'x'));
    queue.consume(pool, 150);
    queue.clear(pool);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
    EXPECT_EQ(pool.frames_live(), 0u);
    // Usable again after clear.
    push_bytes(pool, queue, "again");
    EXPECT_EQ(queued(queue), "again");
    queue.clear(pool);
}

TEST(OutboundQueue, ShrinkOnlyAffectsAnEmptyQueue) {
    frame_pool pool;
    outbound_queue queue;
    push_bytes(pool, queue, "abc");
    push_bytes(pool, queue, "def");
    queue.shrink();  // not empty: must keep everything
    EXPECT_EQ(queued(queue), "abcdef");
    queue.consume(pool, 6);
    EXPECT_TRUE(queue.empty());
    queue.shrink();
    queue.shrink();
    for (int i = 0; i < 12; ++i) push_bytes(pool, queue, std::to_string(i % 10));
    EXPECT_EQ(queued(queue), "012345678901");
    EXPECT_EQ(queue.bytes(), 12u);
    queue.clear(pool);
}

TEST(OutboundQueue, ByteAccounting) {
    frame_pool pool;
    outbound_queue queue;
    uint64_t total = 0;
    for (int i = 1; i <= 40; ++i) {
        push_bytes(pool, queue, std::string(i * 37, 'q'));
        total += i * 37;
        ASSERT_EQ(queue.bytes(), total);
    }
    ASSERT_EQ(queue.frames(), 40u);
    while (!queue.empty()) {
        uint64_t step = std::min<uint64_t>(queue.bytes(), 1001);
        queue.consume(pool, step);
        total -= step;
        ASSERT_EQ(queue.bytes(), total);
    }
    EXPECT_EQ(queue.frames(), 0u);
}

}  // namespace
}  // namespace chorus::core
