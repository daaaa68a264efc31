// Tests for frame_pool: reference counting, size classes, reuse through the free lists (the
// heap-allocation counter stays flat once warm: the pool-level proof that the audio path
// allocates nothing per frame), the free-list bound, big buffers that bypass the pool, and trim:
// a used class keeps its reserve and halves the excess, an idle class gives everything back.
#include "core/frame_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace chorus::core {
namespace {

TEST(FramePool, AllocateGivesOneReferenceAndNoBytes) {
    frame_pool pool;
    shared_frame* frame = pool.allocate(100);
    ASSERT_NE(frame, nullptr);
    EXPECT_EQ(frame->refs, 1u);
    EXPECT_EQ(frame->size, 0u);
    EXPECT_GE(frame->capacity, 100u);
    EXPECT_EQ(pool.frames_live(), 1u);
    pool.release(frame);
    EXPECT_EQ(pool.frames_live(), 0u);
}

TEST(FramePool, LastReleaseRecycles) {
    frame_pool pool;
    shared_frame* frame = pool.allocate(200);
    pool.retain(frame);
    pool.retain(frame);
    EXPECT_EQ(frame->refs, 3u);
    pool.release(frame);
    pool.release(frame);
    EXPECT_EQ(frame->refs, 1u);
    EXPECT_EQ(pool.frames_live(), 1u);
    pool.release(frame);
    EXPECT_EQ(pool.frames_live(), 0u);
    // The recycled buffer comes back first, fresh: one reference, no bytes.
    shared_frame* again = pool.allocate(200);
    EXPECT_EQ(again, frame);
    EXPECT_EQ(again->refs, 1u);
    EXPECT_EQ(again->size, 0u);
    EXPECT_EQ(pool.heap_allocations(), 1u);
    pool.release(again);
}

// The class boundaries are the pool's own business; what callers rely on is that a buffer
// holds what was asked, that rounding up wastes at most a small factor, that a request at a
// class's exact capacity stays in that class, and that big requests get exactly their size.
TEST(FramePool, SizeClassesRoundUp) {
    frame_pool pool;
    const size_t asked[] = {0,    1,    100,  128,   129,   256,   257,   1000,  1024,
                            1025, 4096, 4097, 17408, 17409, 30000, 66560, 66561, 100000};
    for (size_t bytes : asked) {
        shared_frame* frame = pool.allocate(bytes);
        EXPECT_GE(frame->capacity, bytes) << "asked " << bytes;
        EXPECT_LE(frame->capacity, std::max<size_t>(5 * bytes, 256)) << "asked " << bytes;
        if (bytes > 66560) {
            EXPECT_EQ(frame->capacity, bytes) << "asked " << bytes;
        }
        // The whole capacity is usable (ASan checks the bounds).
        std::memset(frame->data(), 0xab, frame->capacity);
        uint32_t capacity = frame->capacity;
        pool.release(frame);
        // Asking for exactly that capacity reuses the same buffer (same class).
        shared_frame* again = pool.allocate(capacity);
        if (bytes <= 66560) {
            EXPECT_EQ(again, frame) << "asked " << bytes;
        }
        EXPECT_EQ(again->capacity, capacity);
        pool.release(again);
    }
}

TEST(FramePool, SizeClassesDoNotMix) {
    frame_pool pool;
    shared_frame* small = pool.allocate(10);
    uint32_t small_capacity = small->capacity;
    pool.release(small);
    shared_frame* big = pool.allocate(5000);  // must not reuse the small buffer
    EXPECT_NE(big, small);
    EXPECT_GE(big->capacity, 5000u);
    shared_frame* small_again = pool.allocate(small_capacity);
    EXPECT_EQ(small_again, small);
    pool.release(big);
    pool.release(small_again);
}

TEST(FramePool, SteadyStateAllocatesNothing) {
    frame_pool pool;
    const size_t sizes[] = {40, 200, 900, 3000, 16000, 60000};
    constexpr int in_flight = 64;
    std::vector<shared_frame*> frames;
    // Warm-up: the largest working set of every class.
    for (size_t bytes : sizes) {
        for (int i = 0; i < in_flight; ++i) frames.push_back(pool.allocate(bytes));
    }
    for (shared_frame* frame : frames) pool.release(frame);
    frames.clear();
    uint64_t warm = pool.heap_allocations();
    // Fan-out pattern: allocate, share with recipients, each recipient releases.
    for (int round = 0; round < 20000; ++round) {
        size_t bytes = sizes[round % 6];
        shared_frame* frame = pool.allocate(bytes);
        frame->size = static_cast<uint32_t>(bytes);
        frame->data()[0] = static_cast<uint8_t>(round);
        for (int r = 0; r < 5; ++r) pool.retain(frame);
        frames.push_back(frame);
        if (frames.size() == in_flight) {
            for (shared_frame* f : frames)
                for (int r = 0; r < 6; ++r) pool.release(f);
            frames.clear();
        }
    }
    for (shared_frame* f : frames)
        for (int r = 0; r < 6; ++r) pool.release(f);
    EXPECT_EQ(pool.heap_allocations(), warm);
    EXPECT_EQ(pool.frames_live(), 0u);
}

TEST(FramePool, BigBuffersBypassThePool) {
    frame_pool pool;
    constexpr size_t big = 16u << 20;  // the largest echo message
    for (int i = 0; i < 3; ++i) {
        shared_frame* frame = pool.allocate(big);
        ASSERT_GE(frame->capacity, big);
        std::memset(frame->data(), i, big);
        frame->size = static_cast<uint32_t>(big);
        pool.retain(frame);
        pool.release(frame);
        EXPECT_EQ(pool.frames_live(), 1u);
        pool.release(frame);
        EXPECT_EQ(pool.frames_live(), 0u);
    }
    // Each big buffer comes from the heap and goes straight back: nothing is kept.
    EXPECT_EQ(pool.heap_allocations(), 3u);
}

TEST(FramePool, FreeListsAreBounded) {
    frame_pool pool;
    constexpr size_t count = 16384 + 10;  // the per-class bound plus some
    std::vector<shared_frame*> frames;
    for (size_t i = 0; i < count; ++i) frames.push_back(pool.allocate(64));
    for (shared_frame* frame : frames) pool.release(frame);
    frames.clear();
    EXPECT_EQ(pool.heap_allocations(), count);
    for (size_t i = 0; i < count; ++i) frames.push_back(pool.allocate(64));
    // Only the bound was kept; the surplus went back to the heap and is allocated again.
    EXPECT_EQ(pool.heap_allocations(), count + 10);
    for (shared_frame* frame : frames) pool.release(frame);
}

// Allocates `count` frames of `bytes` and releases them all: they end in the free list.
void churn(frame_pool& pool, size_t bytes, size_t count) {
    std::vector<shared_frame*> frames;
    for (size_t i = 0; i < count; ++i) frames.push_back(pool.allocate(bytes));
    for (shared_frame* frame : frames) pool.release(frame);
}

TEST(FramePool, TrimKeepsTheReserveOfAClassInUse) {
    frame_pool pool;
    churn(pool, 100, 500);  // 500 x 128 B is well inside the class's reserve
    pool.trim();
    uint64_t before = pool.heap_allocations();
    churn(pool, 100, 500);
    EXPECT_EQ(pool.heap_allocations(), before);  // all reused
}

TEST(FramePool, TrimHalvesWhatAClassInUseHoldsBeyondItsReserve) {
    frame_pool pool;
    constexpr size_t big = 60000;  // the 66560-byte class: a 1 MiB reserve is 15 frames
    churn(pool, big, 41);
    pool.trim();  // 26 beyond the reserve: 13 go back to the heap
    uint64_t before = pool.heap_allocations();
    churn(pool, big, 41);
    EXPECT_EQ(pool.heap_allocations(), before + 13);
}

TEST(FramePool, TrimGivesBackAllOfAClassIdleForThreeTrims) {
    frame_pool pool;
    churn(pool, 100, 500);
    churn(pool, 2000, 50);
    pool.trim();  // both used: kept
    for (int i = 0; i < 2; ++i) {
        churn(pool, 100, 10);
        pool.trim();  // the 4096-byte class idle for one trim, then two: still kept
    }
    uint64_t before = pool.heap_allocations();
    churn(pool, 2000, 50);
    EXPECT_EQ(pool.heap_allocations(), before);
    pool.trim();  // used again: its idle count starts over
    for (int i = 0; i < 3; ++i) {
        churn(pool, 100, 10);
        pool.trim();  // the third idle trim in a row empties it
    }
    before = pool.heap_allocations();
    churn(pool, 2000, 50);
    EXPECT_EQ(pool.heap_allocations(), before + 50);
    before = pool.heap_allocations();
    churn(pool, 100, 500);
    EXPECT_EQ(pool.heap_allocations(), before);  // the class in use kept its frames
}

}  // namespace
}  // namespace chorus::core
