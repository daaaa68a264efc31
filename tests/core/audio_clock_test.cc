// Tests for the audio clock (--audio-batch): a room's receivers hold its audio until the room's
// own window boundary and then all go out in one pass; control is never held; a whisper waits
// like room audio; held audio counts against the soft limit; a completed send does not take held
// audio early; a room that ends is forgotten; the wheel finds what is due after a stalled pass.
#include "core/audio_clock.h"

#include <gtest/gtest.h>

#include "core/base/clock.h"
#include "tests/core/room_fakes.h"

namespace chorus::core {
namespace {

using fakes::room_world;

constexpr uint32_t window = 20;

struct audio_clock_test : ::testing::Test {
    room_world world{1000, window};
    audio_clock& clock = world.rooms.clock();
    room& open(std::string_view id) {
        bool created = false;
        return world.rooms.open(id, &created);
    }
    member& add(room& r, uint32_t id) {
        auto fresh = std::make_unique<member>();
        fresh->id = id;
        std::string user = "u" + std::to_string(id);
        fresh->names = member_names(user, user);
        member& m = r.add(std::move(fresh));
        r.attach(m, world.new_session(true));
        r.make_present(m);
        return m;
    }
    shared_frame* audio(uint32_t from, std::string_view bytes) {
        return world.writer.audio_frame(
            1, from, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    }
    void deliver(room& r, member& from, std::string_view bytes) {
        shared_frame* frame = audio(from.id, bytes);
        r.deliver_audio(frame, &from);
        world.pool.release(frame);
    }
    static std::string expected(uint32_t from, std::string_view bytes) {
        return std::string("bin:") + '\x01' + std::string("\0\0\0", 3) + char(from) +
               std::string(bytes);
    }
};

TEST_F(audio_clock_test, ReceiversHoldRoomAudioUntilTheRoomsBoundaryThenAllGoAtOnce) {
    room& r = open("lobby");
    r.window().phase_ms = 7;
    member& a = add(r, 1);
    member& b = add(r, 2);
    member& c = add(r, 3);
    uint64_t before = base::monotonic_ms();
    deliver(r, a, "one");
    deliver(r, c, "two");
    uint64_t after = base::monotonic_ms();
    session& sb = *b.connection;
    EXPECT_FALSE(sb.dirty) << "audio went out before its window";
    EXPECT_FALSE(c.connection->dirty);
    EXPECT_FALSE(a.connection->dirty);
    EXPECT_EQ(sb.held_bytes, sb.out.bytes());
    EXPECT_EQ(world.metrics.audio_deliveries.get(), 4u);

    uint64_t due = clock.next_due_ms();
    EXPECT_GT(due, before);
    EXPECT_LE(due, after + window);
    EXPECT_EQ(due % window, 7u) << "the room's boundaries keep its phase";

    world.rooms.release_audio(due - 1);
    EXPECT_FALSE(sb.dirty);
    world.rooms.release_audio(due);
    EXPECT_TRUE(sb.dirty);
    EXPECT_TRUE(a.connection->dirty);
    EXPECT_TRUE(c.connection->dirty);
    EXPECT_EQ(sb.held_bytes, 0u);
    EXPECT_EQ(world.metrics.audio_windows.get(), 3u);
    EXPECT_EQ(clock.next_due_ms(), UINT64_MAX) << "nothing held: the loop may sleep";
    EXPECT_EQ(world.frames(sb), (std::vector<std::string>{expected(1, "one"), expected(3, "two")}));
    EXPECT_EQ(world.frames(*a.connection), std::vector<std::string>{expected(3, "two")});
}

TEST_F(audio_clock_test, ControlIsNeverHeldAndKeepsItsPlaceBehindHeldAudio) {
    room& r = open("lobby");
    member& a = add(r, 1);
    member& b = add(r, 2);
    deliver(r, a, "one");
    EXPECT_FALSE(b.connection->dirty);
    r.broadcast_text(R"({"type":"chat"})");
    EXPECT_TRUE(b.connection->dirty) << "a control message waited for the audio window";
    EXPECT_EQ(world.frames(*b.connection),
              (std::vector<std::string>{expected(1, "one"), R"({"type":"chat"})"}));
}

TEST_F(audio_clock_test, AWhisperWaitsForTheRoomsWindowToo) {
    room& r = open("lobby");
    member& a = add(r, 1);
    member& b = add(r, 2);
    member& c = add(r, 3);
    shared_frame* frame = audio(a.id, "psst");
    r.deliver_audio_to(b, frame);
    world.pool.release(frame);
    EXPECT_FALSE(b.connection->dirty);
    EXPECT_TRUE(c.connection->out.empty());
    world.rooms.release_audio(clock.next_due_ms());
    EXPECT_TRUE(b.connection->dirty);
    EXPECT_FALSE(c.connection->dirty);
    EXPECT_EQ(world.frames(*b.connection), std::vector<std::string>{expected(1, "psst")});
}

TEST_F(audio_clock_test, HeldAudioCountsAgainstTheSoftLimit) {
    world.config.send_queue_soft_bytes = 500;
    room& r = open("lobby");
    member& a = add(r, 1);
    member& b = add(r, 2);
    std::string payload(100, 'x');
    for (int i = 0; i < 10; ++i) deliver(r, a, payload);
    EXPECT_GT(world.metrics.audio_dropped_slow.get(), 0u);
    EXPECT_LE(b.connection->out.bytes(), 500u + 120u);
}

TEST_F(audio_clock_test, ACompletedSendTakesHeldAudioOnlyWithSomethingElse) {
    room& r = open("lobby");
    member& a = add(r, 1);
    member& b = add(r, 2);
    session& sb = *b.connection;
    deliver(r, a, "one");
    sb.sending = true;  // as if a send had been in flight while the audio was held
    ASSERT_TRUE(world.writer.sent(sb, 0));
    EXPECT_FALSE(sb.dirty) << "held audio went out before its window";
    world.writer.send_text(sb, R"({"type":"chat"})");
    sb.dirty = false;  // the flush found the send in flight
    sb.sending = true;
    ASSERT_TRUE(world.writer.sent(sb, 0));
    EXPECT_TRUE(sb.dirty) << "control waiting behind held audio stayed queued";
}

TEST_F(audio_clock_test, ARoomThatEndsWhileHoldingIsForgotten) {
    room& r = open("lobby");
    member& a = add(r, 1);
    add(r, 2);
    deliver(r, a, "one");
    ASSERT_NE(clock.next_due_ms(), UINT64_MAX);
    world.rooms.end(r);
    EXPECT_EQ(clock.next_due_ms(), UINT64_MAX);
    world.rooms.release_audio(base::monotonic_ms() + 10 * window);  // no room to touch
}

TEST_F(audio_clock_test, EveryRoomIsReleasedOnceAtItsOwnBoundaryEvenAfterAStalledPass) {
    std::vector<room*> rooms;
    for (uint32_t phase = 0; phase < window; ++phase) {
        room& r = open("room" + std::to_string(phase));
        r.window().phase_ms = phase;
        add(r, 1);
        rooms.push_back(&r);
    }
    uint64_t start = 1'000'000'000;  // a multiple of the window: phase p is due at start + p
    for (room* r : rooms) clock.hold(*r, r->window(), start);
    std::vector<std::string> released;
    auto release = [&](uint64_t now) {
        clock.release_due(now, [&](room& r) { released.push_back(r.id()); });
    };
    EXPECT_EQ(clock.next_due_ms(), start + 1);
    release(start + 5);
    EXPECT_EQ(released, (std::vector<std::string>{"room1", "room2", "room3", "room4", "room5"}));
    EXPECT_EQ(clock.next_due_ms(), start + 6);
    released.clear();
    // Held again mid-window: the next boundary of its own phase, not the one just passed.
    clock.hold(*rooms[3], rooms[3]->window(), start + 5);
    EXPECT_EQ(rooms[3]->window().due_ms, start + 23);
    // A pass that stalled for several windows releases everything that is due, once.
    release(start + 100);
    EXPECT_EQ(released.size(), window - 5 + 1);
    EXPECT_EQ(clock.next_due_ms(), UINT64_MAX);
    release(start + 200);
    EXPECT_EQ(released.size(), window - 5 + 1);
}

TEST(audio_clock, OffHoldsNothing) {
    room_world world;
    EXPECT_FALSE(world.rooms.clock().on());
    bool created = false;
    room& r = world.rooms.open("lobby", &created);
    auto fresh = std::make_unique<member>();
    fresh->id = 1;
    member& a = r.add(std::move(fresh));
    r.attach(a, world.new_session(true));
    r.make_present(a);
    auto other = std::make_unique<member>();
    other->id = 2;
    member& b = r.add(std::move(other));
    r.attach(b, world.new_session(true));
    r.make_present(b);
    shared_frame* frame = world.writer.audio_frame(1, 1, {});
    r.deliver_audio(frame, &a);
    world.pool.release(frame);
    EXPECT_TRUE(b.connection->dirty) << "without a window audio goes out in its own pass";
    EXPECT_EQ(b.connection->held_bytes, 0u);
    EXPECT_EQ(world.rooms.clock().next_due_ms(), UINT64_MAX);
}

}  // namespace
}  // namespace chorus::core
