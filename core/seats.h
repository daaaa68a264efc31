// A room's mic seats and raised hands (PROTOCOL.md v1.1 §2, §3) as plain state: who sits where,
// which seats are locked or muted, the order of raised hands, what a request changes and why one
// is refused. No members, sockets or seqs here: a room owns one, its room_sync numbers the
// changes, and the cluster keeps the same state in Redis in the compact text form below.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.h"

namespace chorus::core {

// In the order of the protocol's precedence, after bad_message, forbidden and no_such_member
// (which need the member list, so the caller decides them).
enum class seat_error : uint8_t { none, no_such_seat, seat_taken, seat_locked, not_seated };
const char* seat_error_code(seat_error error);
const char* seat_error_text(seat_error error);

struct seat {
    uint32_t member = 0;  // 0: empty
    bool locked = false;
    bool muted = false;
};

// A seat or hand request whose permissions the caller has checked.
struct seat_request {
    enum class kind : uint8_t { count, flags, take, leave, move, hand };
    kind what = kind::take;
    uint32_t member = 0;  // take, leave: the requester; move, hand: whose seat or hand
    uint32_t count = 0;   // count
    int32_t seat = -1;    // flags, take, move; -1: omitted (take: any free seat; move: stand up)
    int8_t locked = -1;   // flags: -1 not given, 0, 1
    int8_t muted = -1;
    bool raised = false;  // hand
};

struct seat_outcome {
    seat_error error = seat_error::none;
    bool seats_changed = false;
    bool hand_changed = false;  // always a lowered hand of `request.member`, or hand's own change
};

class seat_state {
  public:
    uint32_t count() const { return _count; }
    const seat& at(uint32_t index) const { return _seats[index]; }
    const std::vector<uint32_t>& hands() const { return _hands; }
    // The seat `member` sits on, or -1.
    int seat_of(uint32_t member) const;
    bool hand_raised(uint32_t member) const;
    // May `member`'s room audio be relayed as far as seats go: seat mode off, or on an unmuted
    // seat. Once per received frame: a scan of at most seats_max words, no allocation.
    bool may_speak(uint32_t member) const {
        if (_count == 0) return true;
        for (uint32_t i = 0; i < _count; ++i)
            if (_seats[i].member == member) return !_seats[i].muted;
        return false;
    }

    // Applies `request`; on an error nothing changes. A request that changes nothing is not an
    // error (and reports no change).
    seat_outcome apply(const seat_request& request);
    // A member left the room: it stands up and its hand goes down (each: true when it changed).
    bool stand(uint32_t member);
    bool lower_hand(uint32_t member);

    // JSON: `"count":N,"list":[{"seat":0,"member":7,"locked":false,"muted":false},...]`.
    void append_seats_json(std::string& out) const;
    // JSON array of the raised hands, in the order they were raised.
    void append_hands_json(std::string& out) const;

    // Compact forms kept in Redis and carried in cluster envelopes (no '|', no newline):
    // seats "count;member:flags;..." (flags: 1 locked + 2 muted), hands "id,id,...".
    std::string encode_seats() const;
    std::string encode_hands() const;
    // False (and nothing changed) when `text` is not a valid encoding.
    bool decode_seats(std::string_view text);
    bool decode_hands(std::string_view text);

  private:
    seat_outcome set_count(uint32_t count);
    seat_outcome set_flags(const seat_request& request);
    seat_outcome take(const seat_request& request);
    seat_outcome move(const seat_request& request);
    seat_outcome hand(const seat_request& request);
    // Sits `member` on `index` (standing it up from any other seat first).
    void sit(uint32_t member, uint32_t index);

    uint32_t _count = 0;
    std::array<seat, seats_max> _seats{};
    std::vector<uint32_t> _hands;  // bounded by the room's members
};

// A `seats` or `hand` event is its "before" text, the seq, then its "after" text.
constexpr std::string_view seats_event_before = "{\"type\":\"seats\",\"seq\":";
constexpr std::string_view hand_event_before = "{\"type\":\"hand\",\"seq\":";
std::string seats_event_after(const seat_state& state, uint32_t by);
std::string hand_event_after(uint32_t by, uint32_t member, bool raised);

}  // namespace chorus::core
