// Seat state: every request kind, its errors in the protocol's order, the changes it reports,
// and the compact text form the cluster keeps in Redis.
#include "core/seats.h"

#include <gtest/gtest.h>

namespace chorus::core {
namespace {

seat_request count(uint32_t n) {
    seat_request r;
    r.what = seat_request::kind::count;
    r.count = n;
    return r;
}

seat_request take(uint32_t member, int32_t seat = -1) {
    seat_request r;
    r.what = seat_request::kind::take;
    r.member = member;
    r.seat = seat;
    return r;
}

seat_request move(uint32_t member, int32_t seat) {
    seat_request r;
    r.what = seat_request::kind::move;
    r.member = member;
    r.seat = seat;
    return r;
}

seat_request flags(int32_t seat, int8_t locked, int8_t muted) {
    seat_request r;
    r.what = seat_request::kind::flags;
    r.seat = seat;
    r.locked = locked;
    r.muted = muted;
    return r;
}

seat_request hand(uint32_t member, bool raised) {
    seat_request r;
    r.what = seat_request::kind::hand;
    r.member = member;
    r.raised = raised;
    return r;
}

seat_request leave(uint32_t member) {
    seat_request r;
    r.what = seat_request::kind::leave;
    r.member = member;
    return r;
}

std::string json(const seat_state& s) {
    std::string out;
    s.append_seats_json(out);
    return out;
}

TEST(Seats, SeatModeStartsOffAndEveryoneMaySpeak) {
    seat_state s;
    EXPECT_EQ(s.count(), 0u);
    EXPECT_TRUE(s.may_speak(7));
    EXPECT_EQ(json(s), R"("count":0,"list":[])");
    EXPECT_EQ(s.apply(take(7, 0)).error, seat_error::no_such_seat);
    EXPECT_EQ(s.apply(take(7)).error, seat_error::no_such_seat);
    EXPECT_EQ(s.apply(leave(7)).error, seat_error::not_seated);
}

TEST(Seats, TakeMoveAndLeave) {
    seat_state s;
    EXPECT_TRUE(s.apply(count(3)).seats_changed);
    EXPECT_FALSE(s.may_speak(7));
    seat_outcome o = s.apply(take(7, 1));
    EXPECT_EQ(o.error, seat_error::none);
    EXPECT_TRUE(o.seats_changed);
    EXPECT_EQ(s.seat_of(7), 1);
    EXPECT_TRUE(s.may_speak(7));
    EXPECT_EQ(json(s), R"("count":3,"list":[{"seat":0,"member":null,"locked":false,"muted":false},)"
                       R"({"seat":1,"member":7,"locked":false,"muted":false},)"
                       R"({"seat":2,"member":null,"locked":false,"muted":false}])");
    // The seat it holds already: nothing. Another: a move in one change.
    o = s.apply(take(7, 1));
    EXPECT_EQ(o.error, seat_error::none);
    EXPECT_FALSE(o.seats_changed);
    EXPECT_TRUE(s.apply(take(7, 2)).seats_changed);
    EXPECT_EQ(s.seat_of(7), 2);
    EXPECT_EQ(s.at(1).member, 0u);
    EXPECT_EQ(s.apply(take(8, 2)).error, seat_error::seat_taken);
    EXPECT_EQ(s.apply(take(8, 3)).error, seat_error::no_such_seat);
    EXPECT_TRUE(s.apply(leave(7)).seats_changed);
    EXPECT_EQ(s.apply(leave(7)).error, seat_error::not_seated);
}

TEST(Seats, AnyFreeSeatIsTheLowestUnlockedOne) {
    seat_state s;
    s.apply(count(3));
    s.apply(flags(0, 1, -1));
    s.apply(take(5, 1));
    EXPECT_TRUE(s.apply(take(7)).seats_changed);
    EXPECT_EQ(s.seat_of(7), 2);
    seat_outcome again = s.apply(take(7));  // seated already: nothing happens
    EXPECT_EQ(again.error, seat_error::none);
    EXPECT_FALSE(again.seats_changed);
    EXPECT_EQ(s.apply(take(9)).error, seat_error::seat_taken);  // only the locked one is left
}

TEST(Seats, TakenComesBeforeLocked) {
    seat_state s;
    s.apply(count(2));
    s.apply(take(5, 0));
    // Locking an occupied seat stands its member up.
    seat_outcome o = s.apply(flags(0, 1, -1));
    EXPECT_TRUE(o.seats_changed);
    EXPECT_EQ(s.seat_of(5), -1);
    EXPECT_EQ(s.apply(take(6, 0)).error, seat_error::seat_locked);
    // A host may move someone onto a locked seat; then it is taken, locked or not.
    EXPECT_TRUE(s.apply(move(5, 0)).seats_changed);
    EXPECT_EQ(s.apply(take(6, 0)).error, seat_error::seat_taken);
    EXPECT_EQ(s.apply(move(6, 0)).error, seat_error::seat_taken);
}

TEST(Seats, FlagsChangeOnlyWhatTheyName) {
    seat_state s;
    s.apply(count(2));
    EXPECT_EQ(s.apply(flags(2, 1, -1)).error, seat_error::no_such_seat);
    EXPECT_TRUE(s.apply(flags(1, -1, 1)).seats_changed);
    EXPECT_FALSE(s.apply(flags(1, -1, 1)).seats_changed);  // muted already: no change
    EXPECT_TRUE(s.at(1).muted);
    EXPECT_FALSE(s.at(1).locked);
    s.apply(take(4, 1));
    EXPECT_FALSE(s.may_speak(4));  // a muted seat
    seat_outcome both = s.apply(flags(1, 1, 0));
    EXPECT_TRUE(both.seats_changed);
    EXPECT_TRUE(s.at(1).locked);
    EXPECT_FALSE(s.at(1).muted);
    EXPECT_EQ(s.at(1).member, 0u);
}

TEST(Seats, ASmallerCountStandsUpAndForgets) {
    seat_state s;
    s.apply(count(4));
    s.apply(take(1, 3));
    s.apply(flags(2, 1, 1));
    EXPECT_TRUE(s.apply(count(2)).seats_changed);
    EXPECT_EQ(s.seat_of(1), -1);
    EXPECT_FALSE(s.apply(count(2)).seats_changed);
    s.apply(count(4));
    EXPECT_FALSE(s.at(2).locked);
    EXPECT_FALSE(s.at(2).muted);
    EXPECT_EQ(s.at(3).member, 0u);
    s.apply(count(0));
    EXPECT_TRUE(s.may_speak(1));
}

TEST(Seats, MoveWithNoSeatStandsUp) {
    seat_state s;
    s.apply(count(2));
    s.apply(take(3, 0));
    EXPECT_TRUE(s.apply(move(3, -1)).seats_changed);
    seat_outcome again = s.apply(move(3, -1));
    EXPECT_EQ(again.error, seat_error::none);
    EXPECT_FALSE(again.seats_changed);
    EXPECT_EQ(s.apply(move(3, 5)).error, seat_error::no_such_seat);
}

TEST(Seats, HandsKeepTheirOrderAndASeatLowersThem) {
    seat_state s;
    s.apply(count(2));
    EXPECT_TRUE(s.apply(hand(9, true)).hand_changed);
    EXPECT_FALSE(s.apply(hand(9, true)).hand_changed);
    EXPECT_TRUE(s.apply(hand(4, true)).hand_changed);
    EXPECT_TRUE(s.apply(hand(6, true)).hand_changed);
    std::string hands;
    s.append_hands_json(hands);
    EXPECT_EQ(hands, "[9,4,6]");
    seat_outcome o = s.apply(take(4, 0));
    EXPECT_TRUE(o.seats_changed);
    EXPECT_TRUE(o.hand_changed);
    EXPECT_FALSE(s.hand_raised(4));
    o = s.apply(move(6, 1));
    EXPECT_TRUE(o.hand_changed);
    EXPECT_EQ(s.hands(), std::vector<uint32_t>{9});
    o = s.apply(move(5, -1));  // standing already: nothing, not even a hand
    EXPECT_FALSE(o.seats_changed || o.hand_changed);
    // A seated member may raise a hand; taking the seat it holds lowers nothing.
    EXPECT_TRUE(s.apply(hand(4, true)).hand_changed);
    EXPECT_FALSE(s.apply(take(4, 0)).hand_changed);
    EXPECT_TRUE(s.apply(hand(9, false)).hand_changed);
    EXPECT_FALSE(s.apply(hand(9, false)).hand_changed);
}

TEST(Seats, StandAndLowerForALeaver) {
    seat_state s;
    s.apply(count(1));
    s.apply(hand(2, true));
    s.apply(take(3, 0));
    EXPECT_TRUE(s.stand(3));
    EXPECT_FALSE(s.stand(3));
    EXPECT_TRUE(s.lower_hand(2));
    EXPECT_FALSE(s.lower_hand(2));
}

TEST(Seats, TheCompactFormRoundTrips) {
    seat_state s;
    s.apply(count(3));
    s.apply(take(70000, 2));
    s.apply(flags(0, 1, 1));
    s.apply(flags(1, -1, 1));
    s.apply(hand(5, true));
    s.apply(hand(3, true));
    EXPECT_EQ(s.encode_seats(), "3;0:3;0:2;70000:0");
    EXPECT_EQ(s.encode_hands(), "5,3");
    seat_state copy;
    ASSERT_TRUE(copy.decode_seats(s.encode_seats()));
    ASSERT_TRUE(copy.decode_hands(s.encode_hands()));
    EXPECT_EQ(json(copy), json(s));
    EXPECT_EQ(copy.hands(), s.hands());
    seat_state off;
    EXPECT_EQ(off.encode_seats(), "0");
    EXPECT_EQ(off.encode_hands(), "");
    ASSERT_TRUE(copy.decode_seats("0"));
    ASSERT_TRUE(copy.decode_hands(""));
    EXPECT_EQ(copy.count(), 0u);
    EXPECT_TRUE(copy.hands().empty());
}

TEST(Seats, AMalformedCompactFormChangesNothing) {
    seat_state s;
    s.apply(count(1));
    s.apply(take(4, 0));
    for (const char* bad : {"", "x", "2;1:0", "1;1:0;2:0", "1;1:4", "1;1", "1;:0", "33",
                            "2;5:0;5:1", "0;", "1;1:0;", "-1"})
        EXPECT_FALSE(s.decode_seats(bad)) << bad;
    for (const char* bad : {",", "1,", "0", "a", "1,,2", "3,3", "1 2"})
        EXPECT_FALSE(s.decode_hands(bad)) << bad;
    EXPECT_EQ(s.encode_seats(), "1;4:0");
}

TEST(Seats, EventTexts) {
    seat_state s;
    s.apply(count(1));
    EXPECT_EQ(std::string(seats_event_before) + "5" + seats_event_after(s, 3),
              R"({"type":"seats","seq":5,"by":3,"count":1,"list":[)"
              R"({"seat":0,"member":null,"locked":false,"muted":false}]})");
    EXPECT_EQ(std::string(hand_event_before) + "6" + hand_event_after(0, 9, false),
              R"({"type":"hand","seq":6,"by":0,"member":9,"raised":false})");
}

}  // namespace
}  // namespace chorus::core
