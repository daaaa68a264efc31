// Member input, v1.1: the seat and hand messages. Each is checked here in the protocol's order
// (bad_message, forbidden, no_such_member), then handed to the room_sync, which applies the seat
// rules (no_such_seat, seat_taken, seat_locked, not_seated) in the room's one order.
#include "core/member_input.h"

namespace chorus::core {

namespace {

// A seat number off the wire; anything past the largest room is no seat at all.
int32_t seat_index(uint64_t seat) {
    return static_cast<int32_t>(seat < seats_max ? seat : seats_max);
}

}  // namespace

bool member_input::on_seat_message(session& s, member& m, const control_message& message) {
    std::string_view type = message.type;
    if (type == "seats") {
        on_seats(s, m, message);
    } else if (type == "seat") {
        on_seat(s, m, message);
    } else if (type == "take_seat") {
        on_take_seat(s, m, message);
    } else if (type == "leave_seat") {
        seat_request request;
        request.what = seat_request::kind::leave;
        request.member = m.id;
        _sync.change_seats(*m.home, m, request);
    } else if (type == "move") {
        on_move(s, m, message);
    } else if (type == "hand") {
        on_hand(s, m, message);
    } else {
        return false;
    }
    return true;
}

void member_input::on_seats(session& s, member& m, const control_message& message) {
    if (!message.has_count || message.count > _writer.config().max_seats)
        return _writer.send_error(
            s, "bad_message",
            "seats needs \"count\", a whole number from 0 to the server's --max-seats");
    if (!m.admin) return _writer.send_error(s, "forbidden", "only a host can set the seats");
    seat_request request;
    request.what = seat_request::kind::count;
    request.count = static_cast<uint32_t>(message.count);
    request.member = m.id;
    _sync.change_seats(*m.home, m, request);
}

void member_input::on_seat(session& s, member& m, const control_message& message) {
    if (!message.has_seat || message.seat_null || (!message.has_locked && !message.has_muted))
        return _writer.send_error(s, "bad_message",
                                  "seat needs \"seat\" and \"locked\" or \"muted\"");
    if (!m.admin) return _writer.send_error(s, "forbidden", "only a host can lock or mute seats");
    seat_request request;
    request.what = seat_request::kind::flags;
    request.member = m.id;
    request.seat = seat_index(message.seat);
    if (message.has_locked) request.locked = message.locked ? 1 : 0;
    if (message.has_muted) request.muted = message.muted ? 1 : 0;
    _sync.change_seats(*m.home, m, request);
}

void member_input::on_take_seat(session& s, member& m, const control_message& message) {
    if (!m.speak) return _writer.send_error(s, "forbidden", "you may not speak here");
    seat_request request;
    request.what = seat_request::kind::take;
    request.member = m.id;
    if (message.has_seat && !message.seat_null) request.seat = seat_index(message.seat);
    _sync.change_seats(*m.home, m, request);
}

void member_input::on_move(session& s, member& m, const control_message& message) {
    if (!message.has_member || !message.has_seat)
        return _writer.send_error(s, "bad_message", "move needs \"member\" and \"seat\"");
    if (!m.admin) return _writer.send_error(s, "forbidden", "only a host can move members");
    member* moved = target(s, m, message.member_id);
    if (!moved) return;
    if (!message.seat_null && !moved->speak)
        return _writer.send_error(s, "forbidden", "that member may not speak here");
    seat_request request;
    request.what = seat_request::kind::move;
    request.member = moved->id;
    if (!message.seat_null) request.seat = seat_index(message.seat);
    _sync.change_seats(*m.home, m, request);
}

void member_input::on_hand(session& s, member& m, const control_message& message) {
    if (!message.has_raised) return _writer.send_error(s, "bad_message", "hand needs \"raised\"");
    member* whose = &m;
    if (message.has_member && message.member_id != m.id) {
        if (!m.admin || message.raised)
            return _writer.send_error(s, "forbidden",
                                      "only a host can lower someone else's hand, and only lower");
        if (!(whose = target(s, m, message.member_id))) return;
    }
    seat_request request;
    request.what = seat_request::kind::hand;
    request.member = whose->id;
    request.raised = message.raised;
    _sync.change_seats(*m.home, m, request);
}

}  // namespace chorus::core
