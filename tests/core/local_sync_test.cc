// Tests for local_sync, the single-node room rules: join and welcome, the joined event, replace
// by the same user, a full room, leave and the end of a room, resume of an away member with the
// events it missed, chat and mute events with their seq, and kicks. No sockets.
#include "core/local_sync.h"

#include <gtest/gtest.h>

#include "core/auth/resume_token.h"
#include "tests/core/room_fakes.h"

namespace chorus::core {
namespace {

using fakes::room_world;

join_request request_for(std::string_view user) {
    join_request request;
    request.room = "lobby";
    request.user = user;
    request.name = user;
    return request;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

struct local_sync_test : ::testing::Test {
    room_world world;
    session& join(std::string_view user) {
        session& s = world.new_session();
        world.sync->join(s, request_for(user));
        return s;
    }
    room& lobby() { return *world.rooms.find("lobby"); }
};

TEST_F(local_sync_test, AJoinIsUpgradedWelcomedAndAnnouncedToTheOthers) {
    session& a = join("ann");
    session& b = join("bob");
    EXPECT_EQ(world.host.upgrades, 2);
    std::vector<std::string> to_a = world.frames(a);
    ASSERT_EQ(to_a.size(), 2u);
    EXPECT_TRUE(contains(to_a[0], "\"type\":\"welcome\""));
    EXPECT_TRUE(contains(to_a[0], "\"seq\":1"));
    EXPECT_TRUE(contains(to_a[1], "\"type\":\"joined\",\"seq\":2"));
    EXPECT_TRUE(contains(to_a[1], "\"user\":\"bob\""));
    std::vector<std::string> to_b = world.frames(b);
    ASSERT_EQ(to_b.size(), 1u);
    EXPECT_TRUE(contains(to_b[0], "\"seq\":2"));
    EXPECT_TRUE(contains(to_b[0], "\"user\":\"ann\""));  // in its member list
    EXPECT_EQ(lobby().local_members(), 2u);
}

TEST_F(local_sync_test, TheSameUserReplacesItsOlderConnection) {
    session& first = join("ann");
    session& watcher = join("bob");
    world.frames(first);
    world.frames(watcher);
    session& second = join("ann");
    EXPECT_EQ(first.close_code, 4009);
    std::vector<std::string> seen = world.frames(watcher);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_TRUE(contains(seen[0], "\"type\":\"left\",\"seq\":3"));
    EXPECT_TRUE(contains(seen[0], "\"reason\":\"replaced\""));
    EXPECT_TRUE(contains(seen[1], "\"type\":\"joined\",\"seq\":4"));
    EXPECT_EQ(second.phase, session_phase::websocket);
    EXPECT_EQ(lobby().members().size(), 2u);
}

TEST_F(local_sync_test, AFullRoomRefusesAndAnEmptyOneEnds) {
    room_world small(1);
    session& a = small.new_session();
    small.sync->join(a, request_for("ann"));
    session& b = small.new_session();
    small.sync->join(b, request_for("bob"));
    EXPECT_EQ(small.host.refused, std::vector<int>{409});
    small.sync->leave(*a.self, "closed");
    EXPECT_EQ(small.rooms.find("lobby"), nullptr);
    EXPECT_EQ(small.metrics.rooms.get(), 0u);
    EXPECT_EQ(small.metrics.members.get(), 0u);
}

TEST_F(local_sync_test, AnAwayMemberResumesWithTheEventsItMissed) {
    session& a = join("ann");
    session& b = join("bob");
    member& ann = *a.self;
    uint32_t id = ann.id;
    uint64_t nonce = ann.resume_session;
    lobby().go_away(ann);
    world.frames(b);
    world.sync->post_event(lobby(), {'c', id, false, 0, "{\"type\":\"chat\",\"seq\":", "}"});
    join_request again = request_for("ann");
    again.resume = true;
    again.resume_member = id;
    again.resume_session = nonce;
    again.has_last_seq = true;
    again.last_seq = 2;
    session& back = world.new_session();
    world.sync->join(back, std::move(again));
    std::vector<std::string> got = world.frames(back);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(contains(got[0], "\"resumed\":true,\"gap\":false"));
    EXPECT_EQ(got[1], "{\"type\":\"chat\",\"seq\":3}");
    EXPECT_EQ(back.self, &ann);
    EXPECT_NE(ann.resume_session, nonce);  // the old token stops working
    EXPECT_EQ(world.metrics.resumes.get(), 1u);
    std::vector<std::string> to_b = world.frames(b);
    EXPECT_EQ(to_b.size(), 1u);  // the chat; a resume announces nothing
}

TEST_F(local_sync_test, AResumeWithAnotherSessionIsAnOrdinaryJoin) {
    session& a = join("ann");
    uint32_t id = a.self->id;
    lobby().go_away(*a.self);
    join_request again = request_for("ann");
    again.resume_asked = true;
    again.resume = true;
    again.resume_member = id;
    again.resume_session = 12345;
    session& back = world.new_session();
    world.sync->join(back, std::move(again));
    std::vector<std::string> got = world.frames(back);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(contains(got[0], "\"resumed\":false,\"gap\":true"));
    EXPECT_NE(back.self->id, id);  // replaced the away member of the same user
}

TEST_F(local_sync_test, MuteEventsSetTheFlagsAndTakeTheNextSeq) {
    session& a = join("ann");
    session& b = join("bob");
    member& bob = *b.self;
    world.frames(a);
    world.sync->post_event(lobby(), {'m', bob.id, true, a.self->id, "{\"seq\":", "}"});
    EXPECT_TRUE(bob.muted);
    EXPECT_TRUE(bob.admin_muted);
    EXPECT_EQ(world.frames(a), std::vector<std::string>{"{\"seq\":3}"});
}

TEST_F(local_sync_test, AKickClosesTheConnectionAndAnnouncesTheLeave) {
    session& a = join("ann");
    session& b = join("bob");
    world.frames(a);
    world.sync->kick(*b.self);
    EXPECT_EQ(b.close_code, 4001);
    EXPECT_EQ(world.frames(b).back(), "close:4001");
    std::vector<std::string> seen = world.frames(a);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(contains(seen[0], "\"reason\":\"kicked\""));
    EXPECT_EQ(lobby().members().size(), 1u);
}

TEST_F(local_sync_test, AnAwayMemberWhoTimesOutLeaves) {
    session& a = join("ann");
    session& b = join("bob");
    world.frames(a);
    lobby().go_away(*b.self);
    world.rooms.away().expire(UINT64_MAX, [&](member& m) { world.sync->leave(m, "timeout"); });
    std::vector<std::string> seen = world.frames(a);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(contains(seen[0], "\"reason\":\"timeout\""));
}

seat_request seat_change(seat_request::kind what, uint32_t member, int32_t seat = -1) {
    seat_request request;
    request.what = what;
    request.member = member;
    request.seat = seat;
    request.count = 2;
    request.raised = true;
    return request;
}

TEST_F(local_sync_test, SeatChangesAreNumberedEventsAndALeaverIsReleasedAfterItsLeft) {
    session& a = join("ann");
    session& b = join("bob");
    member& bob = *b.self;
    uint32_t bob_id = bob.id;
    world.sync->change_seats(lobby(), *a.self, seat_change(seat_request::kind::count, 0));
    world.sync->change_seats(lobby(), bob, seat_change(seat_request::kind::hand, bob_id));
    world.sync->change_seats(lobby(), bob, seat_change(seat_request::kind::take, bob_id, 1));
    world.sync->change_seats(lobby(), bob, seat_change(seat_request::kind::hand, bob_id));
    world.sync->change_seats(lobby(), bob, seat_change(seat_request::kind::take, bob_id, 5));
    world.frames(a);
    std::vector<std::string> to_b = world.frames(b);
    // seats (3), hand up (4), seats with bob on seat 1 (5), its hand down (6), hand up again (7),
    // then only an error for the seat that does not exist.
    ASSERT_EQ(to_b.size(), 7u);
    EXPECT_TRUE(contains(to_b[1], "\"type\":\"seats\",\"seq\":3,\"by\":1,\"count\":2"));
    EXPECT_TRUE(contains(to_b[3], "\"type\":\"seats\",\"seq\":5"));
    EXPECT_TRUE(contains(to_b[3], "\"seat\":1,\"member\":" + std::to_string(bob_id)));
    EXPECT_TRUE(contains(to_b[4], "\"type\":\"hand\",\"seq\":6,\"by\":" + std::to_string(bob_id) +
                                      ",\"member\":" + std::to_string(bob_id) +
                                      ",\"raised\":false"));
    EXPECT_TRUE(contains(to_b[5], "\"seq\":7"));
    EXPECT_TRUE(contains(to_b[6], "\"code\":\"no_such_seat\""));
    world.sync->leave(bob, "closed");
    std::vector<std::string> to_a = world.frames(a);
    ASSERT_EQ(to_a.size(), 3u);
    EXPECT_TRUE(contains(to_a[0], "\"type\":\"left\",\"seq\":8"));
    EXPECT_TRUE(contains(to_a[1], "\"type\":\"seats\",\"seq\":9,\"by\":0"));
    EXPECT_TRUE(contains(to_a[1], "\"seat\":1,\"member\":null"));
    EXPECT_TRUE(contains(to_a[2], "\"type\":\"hand\",\"seq\":10,\"by\":0"));
    EXPECT_EQ(lobby().seats().seat_of(bob_id), -1);
    EXPECT_TRUE(lobby().seats().hands().empty());
}

}  // namespace
}  // namespace chorus::core
