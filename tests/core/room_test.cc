// Tests for room: audio fan-out (one shared frame, the sender left out, slow receivers dropped),
// mute flags, away and resume, held whispers, events with their seq and history, and the member
// gauge across the lifecycle. No sockets: sessions keep what was queued to them.
#include "core/room.h"

#include <gtest/gtest.h>

#include "core/limits.h"
#include "tests/core/room_fakes.h"

namespace chorus::core {
namespace {

using fakes::room_world;

struct room_test : ::testing::Test {
    room_world world;
    room& r = open();
    room& open() {
        bool created = false;
        return world.rooms.open("lobby", &created);
    }
    member& add(uint32_t id, bool connected = true) {
        auto fresh = std::make_unique<member>();
        fresh->id = id;
        std::string user = "u" + std::to_string(id);
        fresh->names = member_names(user, user);
        member& m = r.add(std::move(fresh));
        if (connected) {
            r.attach(m, world.new_session(true));
            r.make_present(m);
        }
        return m;
    }
    shared_frame* audio(uint32_t from, std::string_view bytes) {
        return world.writer.audio_frame(
            1, from, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    }
};

TEST_F(room_test, AudioReachesEveryPresentMemberButTheSenderThroughOneFrame) {
    member& a = add(1);
    member& b = add(2);
    member& c = add(3);
    shared_frame* frame = audio(1, "xyz");
    r.deliver_audio(frame, &a);
    EXPECT_EQ(frame->refs, 3u);  // ours and one per receiver: encoded once
    world.pool.release(frame);
    EXPECT_TRUE(world.frames(*a.connection).empty());
    std::string expected = std::string("bin:") + '\x01' + std::string("\0\0\0\x01", 4) + "xyz";
    EXPECT_EQ(world.frames(*b.connection), std::vector<std::string>{expected});
    EXPECT_EQ(world.frames(*c.connection), std::vector<std::string>{expected});
    EXPECT_EQ(world.metrics.audio_deliveries.get(), 2u);
}

TEST_F(room_test, AReceiverWithABacklogLosesAudioAndNobodyElseDoes) {
    member& a = add(1);
    member& slow = add(2);
    member& c = add(3);
    std::string big(world.config.send_queue_soft_bytes + 1, 'x');
    world.writer.queue_bytes(*slow.connection, big);
    world.writer.begin_pass();  // what was queued before this pass and is still there: backlog
    shared_frame* frame = audio(1, "a");
    r.deliver_audio(frame, &a);
    world.pool.release(frame);
    EXPECT_EQ(world.metrics.audio_dropped_slow.get(), 1u);
    EXPECT_EQ(world.frames(*c.connection).size(), 1u);
    EXPECT_EQ(slow.connection->out.frames(), 1u);  // only the old bytes
}

TEST_F(room_test, AnAdminMuteIsStickyAndASelfMuteIsNot) {
    member& m = add(1);
    room::set_muted(m, true, 1);
    EXPECT_TRUE(m.muted);
    EXPECT_FALSE(m.admin_muted);
    room::set_muted(m, true, 7);
    EXPECT_TRUE(m.admin_muted);
    room::set_muted(m, false, 7);
    EXPECT_FALSE(m.muted);
    EXPECT_FALSE(m.admin_muted);
}

TEST_F(room_test, AwayMembersLeaveTheFanOutAndComeBackOnResume) {
    member& a = add(1);
    member& b = add(2);
    r.go_away(b);
    EXPECT_EQ(b.connection, nullptr);
    EXPECT_NE(b.away_index, UINT32_MAX);
    EXPECT_GT(b.away_deadline_ms, 0u);
    EXPECT_EQ(r.present().size(), 1u);
    shared_frame* frame = audio(1, "a");
    r.deliver_audio(frame, &a);  // nobody to hear it
    world.pool.release(frame);
    EXPECT_EQ(world.metrics.audio_deliveries.get(), 0u);
    session& again = world.new_session(true);
    r.stay(b);
    r.attach(b, again);
    r.make_present(b);
    EXPECT_EQ(b.away_index, UINT32_MAX);
    EXPECT_EQ(r.present().size(), 2u);
    EXPECT_EQ(again.self, &b);
}

TEST_F(room_test, TheAwayListExpiresOnlyMembersPastTheirDeadline) {
    member& a = add(1);
    member& b = add(2);
    r.go_away(a);
    r.go_away(b);
    r.hold(b, 5);
    std::vector<uint32_t> expired;
    world.rooms.away().expire(10, [&](member& m) {
        expired.push_back(m.id);
        r.erase(m);
    });
    EXPECT_EQ(expired, std::vector<uint32_t>{2});
    EXPECT_NE(r.find(1), nullptr);
}

TEST_F(room_test, WhispersForAnAbsentMemberAreHeldInOrderAndBounded) {
    member& a = add(1);
    r.go_away(a);
    for (uint32_t i = 0; i < whispers_held_max + 3; ++i) {
        shared_frame* frame = world.writer.text_frame("w" + std::to_string(i));
        r.whisper(a, frame);
        world.pool.release(frame);
    }
    ASSERT_TRUE(a.held_whispers);
    EXPECT_EQ(a.held_whispers->size(), whispers_held_max);
    session& again = world.new_session(true);
    r.stay(a);
    r.attach(a, again);
    r.flush_held(a);
    std::vector<std::string> got = world.frames(again);
    ASSERT_EQ(got.size(), whispers_held_max);
    EXPECT_EQ(got.front(), "w0");
    EXPECT_FALSE(a.held_whispers);
}

TEST_F(room_test, EventsKeepTheirSeqInTheHistoryAndReachEveryoneButExcept) {
    member& a = add(1);
    member& b = add(2);
    uint64_t first = r.ledger().next_seq();
    r.publish_event(first, "{\"seq\":1}", &a);
    uint64_t second = r.ledger().next_seq();
    r.publish_event(second, "{\"seq\":2}", nullptr);
    EXPECT_EQ(second, 2u);
    EXPECT_EQ(world.frames(*a.connection), std::vector<std::string>{"{\"seq\":2}"});
    EXPECT_EQ(world.frames(*b.connection),
              (std::vector<std::string>{"{\"seq\":1}", "{\"seq\":2}"}));
    std::vector<uint32_t> replayed;
    EXPECT_TRUE(r.ledger().replay(1, [&](shared_frame* f) { replayed.push_back(f->size); }));
    EXPECT_EQ(replayed.size(), 1u);
}

TEST_F(room_test, OneLifecycleKeepsCountsAndTheMemberGauge) {
    member& a = add(1);
    add(2, false);
    EXPECT_EQ(r.local_members(), 2u);
    EXPECT_EQ(world.metrics.members.get(), 2u);
    r.make_remote(a, 3);
    EXPECT_EQ(r.local_members(), 1u);
    EXPECT_EQ(r.remote_members(), 1u);
    EXPECT_EQ(world.metrics.members.get(), 1u);
    EXPECT_TRUE(r.present().empty());
    r.make_local(a);
    EXPECT_EQ(world.metrics.members.get(), 2u);
    r.erase(a);
    r.erase(*r.find(2));
    EXPECT_EQ(world.metrics.members.get(), 0u);
    EXPECT_TRUE(r.members().empty());
}

}  // namespace
}  // namespace chorus::core
