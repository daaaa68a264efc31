// spsc_ring: FIFO order, full/empty edges, index wraparound, batches, and a two-thread stress
// test that checks every sequence number arrives once and in order (also run under TSan).
#include "core/base/spsc_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace chorus::base {
namespace {

TEST(SpscRing, StartsEmpty) {
    spsc_ring<int, 8> ring;
    int out = -1;
    EXPECT_EQ(ring.size_approx(), 0u);
    EXPECT_FALSE(ring.try_pop(out));
    EXPECT_EQ(out, -1);
    EXPECT_EQ(ring.consume([](const int&) { FAIL(); }, 10), 0u);
    static_assert(spsc_ring<int, 8>::capacity() == 8);
}

TEST(SpscRing, FifoOrderAndFullEdge) {
    spsc_ring<int, 4> ring;
    for (int i = 0; i < 4; i++) EXPECT_TRUE(ring.try_push(i));
    EXPECT_EQ(ring.size_approx(), 4u);
    EXPECT_FALSE(ring.try_push(99));
    int out = -1;
    EXPECT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out, 0);
    EXPECT_TRUE(ring.try_push(4));  // one slot freed
    EXPECT_FALSE(ring.try_push(5));
    for (int want = 1; want <= 4; want++) {
        ASSERT_TRUE(ring.try_pop(out));
        EXPECT_EQ(out, want);
    }
    EXPECT_FALSE(ring.try_pop(out));
    EXPECT_EQ(ring.size_approx(), 0u);
}

TEST(SpscRing, WrapsAroundManyTimes) {
    spsc_ring<uint64_t, 8> ring;
    uint64_t next_in = 0;
    uint64_t next_out = 0;
    for (int round = 0; round < 1000; round++) {
        int n = 1 + round % 8;
        for (int i = 0; i < n; i++) ASSERT_TRUE(ring.try_push(next_in++));
        for (int i = 0; i < n; i++) {
            uint64_t out = 0;
            ASSERT_TRUE(ring.try_pop(out));
            ASSERT_EQ(out, next_out++);
        }
    }
    EXPECT_EQ(ring.size_approx(), 0u);
}

TEST(SpscRing, PushBatchStoresWhatFits) {
    spsc_ring<int, 8> ring;
    int items[12];
    for (int i = 0; i < 12; i++) items[i] = i;
    EXPECT_EQ(ring.push_batch(items, 5), 5u);
    EXPECT_EQ(ring.push_batch(items + 5, 7), 3u);  // only 3 slots left
    EXPECT_EQ(ring.push_batch(items + 8, 4), 0u);
    EXPECT_EQ(ring.push_batch(items, 0), 0u);
    EXPECT_EQ(ring.size_approx(), 8u);
    for (int want = 0; want < 8; want++) {
        int out = -1;
        ASSERT_TRUE(ring.try_pop(out));
        EXPECT_EQ(out, want);
    }
}

TEST(SpscRing, PushBatchAcrossTheWrapPoint) {
    spsc_ring<int, 8> ring;
    int out = 0;
    for (int i = 0; i < 6; i++) ASSERT_TRUE(ring.try_push(-1));
    for (int i = 0; i < 6; i++) ASSERT_TRUE(ring.try_pop(out));
    int items[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    EXPECT_EQ(ring.push_batch(items, 8), 8u);  // slots 6,7 then 0..5
    std::vector<int> seen;
    EXPECT_EQ(ring.consume([&](const int& v) { seen.push_back(v); }, 100), 8u);
    EXPECT_EQ(seen, std::vector<int>({0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(SpscRing, ConsumeRespectsMax) {
    spsc_ring<int, 16> ring;
    for (int i = 0; i < 10; i++) ASSERT_TRUE(ring.try_push(i));
    std::vector<int> seen;
    auto collect = [&](const int& v) { seen.push_back(v); };
    EXPECT_EQ(ring.consume(collect, 4), 4u);
    EXPECT_EQ(ring.consume(collect, 0), 0u);
    EXPECT_EQ(ring.size_approx(), 6u);
    EXPECT_EQ(ring.consume(collect, 100), 6u);
    EXPECT_EQ(ring.consume(collect, 100), 0u);
    EXPECT_EQ(seen, std::vector<int>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(SpscRing, CarriesStructs) {
    struct record {
        uint32_t from;
        uint16_t kind;
        char text[10];
    };
    spsc_ring<record, 2> ring;
    EXPECT_TRUE(ring.try_push(record{7, 3, "hello"}));
    record out{};
    EXPECT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out.from, 7u);
    EXPECT_EQ(out.kind, 3u);
    EXPECT_STREQ(out.text, "hello");
}

TEST(SpscRing, IndicesOnSeparateCacheLines) {
    EXPECT_GE(sizeof(spsc_ring<char, 2>), 3 * cache_line_bytes);
    EXPECT_EQ(alignof(spsc_ring<char, 2>), cache_line_bytes);
}

// Producer pushes 0..n-1 (mixing single pushes and batches); the consumer checks each arrives
// exactly once, in order (mixing try_pop and consume).
TEST(SpscRing, TwoThreadStressKeepsOrder) {
    constexpr uint64_t total = 5'000'000;
    auto ring = std::make_unique<spsc_ring<uint64_t, 1024>>();
    std::thread producer([&] {
        uint64_t next = 0;
        uint64_t batch[32];
        while (next < total) {
            if (next % 3 == 0) {
                size_t n = 0;
                while (n < 32 && next + n < total) {
                    batch[n] = next + n;
                    n++;
                }
                next += ring->push_batch(batch, n);
            } else if (ring->try_push(next)) {
                next++;
            } else {
                std::this_thread::yield();
            }
        }
    });
    uint64_t expected = 0;
    bool in_order = true;
    while (expected < total) {
        size_t got = 0;
        if (expected % 2 == 0) {
            got = ring->consume(
                [&](const uint64_t& v) {
                    in_order = in_order && v == expected;
                    expected++;
                },
                64);
        } else {
            uint64_t v = 0;
            if (ring->try_pop(v)) {
                in_order = in_order && v == expected;
                expected++;
                got = 1;
            }
        }
        if (!in_order) break;
        if (got == 0) std::this_thread::yield();
    }
    producer.join();
    EXPECT_TRUE(in_order) << "out of order near " << expected;
    EXPECT_EQ(expected, total);
    uint64_t extra = 0;
    EXPECT_FALSE(ring->try_pop(extra));
}

}  // namespace
}  // namespace chorus::base
