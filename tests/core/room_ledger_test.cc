// Tests for local_ledger: event seq, member ids, the bounded history and its references, and
// replay after a given seq (in order, a gap the history no longer covers, nothing missed).
#include "core/room_ledger.h"

#include <gtest/gtest.h>

#include <vector>

namespace chorus::core {
namespace {

// Records event `seq` whose single byte is `seq`; the ledger keeps its own reference.
void record_event(frame_pool& pool, room_ledger& ledger) {
    uint64_t seq = ledger.next_seq();
    shared_frame* frame = pool.allocate(1);
    frame->data()[0] = static_cast<uint8_t>(seq);
    frame->size = 1;
    ledger.record(seq, frame);
    pool.release(frame);
}

std::vector<int> replayed(const room_ledger& ledger, uint64_t after, bool* complete) {
    std::vector<int> seqs;
    *complete = ledger.replay(after, [&](shared_frame* f) { seqs.push_back(f->data()[0]); });
    return seqs;
}

TEST(RoomLedger, SeqStartsAtOne) {
    frame_pool pool;
    local_ledger ledger(pool, 8);
    EXPECT_EQ(ledger.current_seq(), 0u);
    EXPECT_EQ(ledger.next_seq(), 1u);
    EXPECT_EQ(ledger.next_seq(), 2u);
    EXPECT_EQ(ledger.current_seq(), 2u);
}

TEST(RoomLedger, MemberIdsAreUniqueAndNeverZero) {
    frame_pool pool;
    local_ledger ledger(pool, 8);
    for (uint32_t expected = 1; expected <= 1000; ++expected)
        ASSERT_EQ(ledger.allocate_member(), expected);
}

TEST(RoomLedger, ReplaysMissedEventsInOrder) {
    frame_pool pool;
    local_ledger ledger(pool, 16);
    for (int i = 0; i < 10; ++i) record_event(pool, ledger);
    bool complete = false;
    EXPECT_EQ(replayed(ledger, 6, &complete), (std::vector<int>{7, 8, 9, 10}));
    EXPECT_TRUE(complete);
    EXPECT_EQ(replayed(ledger, 0, &complete), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    EXPECT_TRUE(complete);
    EXPECT_EQ(replayed(ledger, 9, &complete), (std::vector<int>{10}));
    EXPECT_TRUE(complete);
}

TEST(RoomLedger, NothingMissedReplaysNothing) {
    frame_pool pool;
    local_ledger ledger(pool, 4);
    bool complete = false;
    EXPECT_TRUE(replayed(ledger, 0, &complete).empty());  // an empty room
    EXPECT_TRUE(complete);
    for (int i = 0; i < 10; ++i) record_event(pool, ledger);
    EXPECT_TRUE(replayed(ledger, 10, &complete).empty());
    EXPECT_TRUE(complete);
    EXPECT_TRUE(replayed(ledger, 50, &complete).empty());  // ahead of us: nothing to send
    EXPECT_TRUE(complete);
}

TEST(RoomLedger, HistoryIsBoundedAndGapsAreReported) {
    frame_pool pool;
    local_ledger ledger(pool, 4);
    for (int i = 0; i < 10; ++i) record_event(pool, ledger);
    EXPECT_EQ(pool.frames_live(), 4u);  // only the kept history holds buffers
    bool complete = true;
    EXPECT_EQ(replayed(ledger, 6, &complete), (std::vector<int>{7, 8, 9, 10}));
    EXPECT_TRUE(complete);
    EXPECT_TRUE(replayed(ledger, 5, &complete).empty());  // event 6 is gone
    EXPECT_FALSE(complete);
    EXPECT_TRUE(replayed(ledger, 0, &complete).empty());
    EXPECT_FALSE(complete);
}

TEST(RoomLedger, NoHistoryMeansEveryReplayIsAGap) {
    frame_pool pool;
    local_ledger ledger(pool, 0);
    record_event(pool, ledger);
    EXPECT_EQ(pool.frames_live(), 0u);
    bool complete = true;
    EXPECT_TRUE(replayed(ledger, 0, &complete).empty());
    EXPECT_FALSE(complete);
    EXPECT_TRUE(replayed(ledger, 1, &complete).empty());
    EXPECT_TRUE(complete);
}

TEST(RoomLedger, ReleasesHistoryOnDestruction) {
    frame_pool pool;
    {
        local_ledger_factory factory(8);
        std::unique_ptr<room_ledger> ledger = factory.open("room", pool);
        for (int i = 0; i < 5; ++i) record_event(pool, *ledger);
        EXPECT_EQ(pool.frames_live(), 5u);
    }
    EXPECT_EQ(pool.frames_live(), 0u);
}

}  // namespace
}  // namespace chorus::core
