// Tests for local_ledger: event seq, member ids, the bounded history and its references, and
// replay after a given seq (in order, a gap the history no longer covers, nothing missed);
// joined events kept as fields replay as the very bytes of the frame that was broadcast.
#include "core/room_ledger.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/frame.h"
#include "ws/handshake.h"

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

// The payload of a replayed text frame.
std::string payload_of(const shared_frame* frame) {
    EXPECT_EQ(frame->data()[0], 0x81);  // FIN, text
    uint8_t length = frame->data()[1];
    size_t header = length < 126 ? 2 : length == 126 ? 4 : 10;
    return {reinterpret_cast<const char*>(frame->data()) + header, frame->size - header};
}

std::vector<std::string> replayed_json(const room_ledger& ledger, uint64_t after, bool* complete) {
    std::vector<std::string> events;
    *complete = ledger.replay(after, [&](shared_frame* f) { events.push_back(payload_of(f)); });
    return events;
}

// What local_sync built for a joined event before the ledger kept joined events as fields: the
// head, then the member object (room::append_member's layout) without its opening brace.
std::string joined_as_before(const joined_event& e) {
    std::string json = "{\"type\":\"joined\",\"seq\":" + std::to_string(e.seq) + ",";
    std::string body = "{\"member\":" + std::to_string(e.member) + ",\"user\":\"";
    ws::append_json_escaped(body, e.names.user());
    body += "\",\"name\":\"";
    ws::append_json_escaped(body, e.names.name());
    body += std::string("\",\"muted\":") + (e.muted ? "true" : "false");
    body += std::string(",\"speak\":") + (e.speak ? "true" : "false");
    body += std::string(",\"admin\":") + (e.admin ? "true" : "false") + "}";
    return json + body.substr(1);
}

// Records a frame event carrying `json` as event `seq`, as room::publish_event does.
void record_json(frame_pool& pool, room_ledger& ledger, uint64_t seq, const std::string& json) {
    shared_frame* frame = make_text_frame(pool, json);
    ledger.record(seq, frame);
    pool.release(frame);
}

TEST(RoomLedger, JoinedRendersAsBefore) {
    const char* names[][2] = {
        {"alice", "Alice"},
        {"u\"quote\\", "tab\there"},
        {"bob", "Zo\xc3\xab \xf0\x9f\x8e\xa4"},
        {"a-very-long-user-name-of-sixty-four-bytes-xxxxxxxxxxxxxxxxxxxxxx", "\x01 control \x1f"}};
    for (auto& pair : names) {
        for (int flags = 0; flags < 8; ++flags) {
            joined_event e;
            e.seq = 4000000000ull + static_cast<uint64_t>(flags);
            e.member = 4294967295u - static_cast<uint32_t>(flags);
            e.names = member_names(pair[0], pair[1]);
            e.muted = flags & 1;
            e.speak = flags & 2;
            e.admin = flags & 4;
            std::string json;
            e.append_json(json);
            EXPECT_EQ(json, joined_as_before(e));
        }
    }
}

// Joined, left, muted, seats and hand events in one history, replayed after every possible
// last_seq (the resume gaps), before and after the bound pushes the oldest out: each replay is
// the bytes that were broadcast, in order.
TEST(RoomLedger, MixedHistoryReplaysTheBroadcastBytes) {
    frame_pool pool;
    local_ledger ledger(pool, 6);
    std::vector<std::string> sent;  // sent[seq - 1]: the payload every member got
    auto joined = [&](uint32_t member, const char* user, const char* name, bool muted) {
        joined_event e;
        e.seq = ledger.next_seq();
        e.member = member;
        e.names = member_names(user, name);
        e.muted = muted;
        e.speak = member % 2 == 1;
        e.admin = member == 1;
        std::string json;
        e.append_json(json);
        sent.push_back(json);
        ledger.record_joined(e);
    };
    auto event = [&](const std::string& before, const std::string& after) {
        uint64_t seq = ledger.next_seq();
        std::string json = before + std::to_string(seq) + after;
        sent.push_back(json);
        record_json(pool, ledger, seq, json);
    };
    joined(1, "alice", "Alice", false);
    joined(2, "bob", "B\"ob", true);
    event("{\"type\":\"muted\",\"seq\":", ",\"member\":2,\"muted\":false,\"by\":1}");
    event("{\"type\":\"seats\",\"seq\":", ",\"by\":1,\"count\":2,\"list\":[]}");
    event("{\"type\":\"hand\",\"seq\":", ",\"by\":2,\"member\":2,\"raised\":true}");
    joined(3, "carol", "Carol", false);
    bool complete = false;
    for (uint64_t after = 0; after <= 6; ++after) {
        std::vector<std::string> expected(sent.begin() + static_cast<long>(after), sent.end());
        EXPECT_EQ(replayed_json(ledger, after, &complete), expected) << "after " << after;
        EXPECT_TRUE(complete);
    }
    event("{\"type\":\"left\",\"seq\":", ",\"member\":3,\"user\":\"carol\",\"reason\":\"closed\"}");
    joined(4, "dave", "Dave", false);  // seqs 1 and 2 (joined, joined) fall out of the bound
    EXPECT_TRUE(replayed_json(ledger, 1, &complete).empty());
    EXPECT_FALSE(complete);
    for (uint64_t after = 2; after <= 8; ++after) {
        std::vector<std::string> expected(sent.begin() + static_cast<long>(after), sent.end());
        EXPECT_EQ(replayed_json(ledger, after, &complete), expected) << "after " << after;
        EXPECT_TRUE(complete);
    }
    EXPECT_EQ(pool.frames_live(), 4u);  // muted, seats, hand and left; joined events hold none
}

// Takes the next seq for member `id`'s joined event and keeps it.
joined_event record_joined(room_ledger& ledger, uint32_t id, const char* user, const char* name) {
    joined_event e;
    e.seq = ledger.next_seq();
    e.member = id;
    e.names = member_names(user, name);
    ledger.record_joined(e);
    return e;
}

TEST(RoomLedger, JoinedReplayHandsOutFramesTheVisitorMayKeep) {
    frame_pool pool;
    local_ledger ledger(pool, 4);
    joined_event e = record_joined(ledger, 7, "erin", "Erin");
    EXPECT_EQ(pool.frames_live(), 0u);  // kept as fields, no frame
    std::vector<shared_frame*> kept;
    bool complete = ledger.replay(0, [&](shared_frame* f) {
        pool.retain(f);
        kept.push_back(f);
    });
    EXPECT_TRUE(complete);
    ASSERT_EQ(kept.size(), 1u);
    std::string json;
    e.append_json(json);
    EXPECT_EQ(payload_of(kept[0]), json);
    EXPECT_EQ(pool.frames_live(), 1u);  // only the visitor's reference is left
    pool.release(kept[0]);
    EXPECT_EQ(pool.frames_live(), 0u);
}

TEST(RoomLedger, ForgettingTheHistoryDropsJoinedEvents) {
    frame_pool pool;
    local_ledger ledger(pool, 8);
    (void)record_joined(ledger, 1, "frank", "Frank");
    record_event(pool, ledger);
    ledger.advance_to(10);  // a jump (cluster): the history no longer runs without holes
    EXPECT_EQ(pool.frames_live(), 0u);
    bool complete = true;
    EXPECT_TRUE(replayed_json(ledger, 0, &complete).empty());
    EXPECT_FALSE(complete);
}

TEST(RoomLedger, NoHistoryKeepsNoJoinedEvents) {
    frame_pool pool;
    local_ledger ledger(pool, 0);
    (void)record_joined(ledger, 1, "gina", "Gina");
    bool complete = true;
    EXPECT_TRUE(replayed_json(ledger, 0, &complete).empty());
    EXPECT_FALSE(complete);
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
