// Seat state: the request rules of PROTOCOL.md v1.1 §3, its JSON and its compact text form.
#include "core/seats.h"

#include <algorithm>
#include <charconv>

namespace chorus::core {

namespace {

bool parse_u32(std::string_view text, uint32_t* out) {
    if (text.empty() || text.size() > 10) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

const char* seat_error_code(seat_error error) {
    switch (error) {
        case seat_error::none:
            return "";
        case seat_error::no_such_seat:
            return "no_such_seat";
        case seat_error::seat_taken:
            return "seat_taken";
        case seat_error::seat_locked:
            return "seat_locked";
        case seat_error::not_seated:
            return "not_seated";
    }
    return "";
}

const char* seat_error_text(seat_error error) {
    switch (error) {
        case seat_error::none:
            return "";
        case seat_error::no_such_seat:
            return "no such seat (the room has fewer seats, or seat mode is off)";
        case seat_error::seat_taken:
            return "the seat is taken (or no free seat is left)";
        case seat_error::seat_locked:
            return "the seat is locked";
        case seat_error::not_seated:
            return "you are not on a seat";
    }
    return "";
}

int seat_state::seat_of(uint32_t member) const {
    for (uint32_t i = 0; i < _count; ++i)
        if (_seats[i].member == member) return static_cast<int>(i);
    return -1;
}

bool seat_state::hand_raised(uint32_t member) const {
    return std::find(_hands.begin(), _hands.end(), member) != _hands.end();
}

seat_outcome seat_state::apply(const seat_request& request) {
    switch (request.what) {
        case seat_request::kind::count:
            return set_count(request.count);
        case seat_request::kind::flags:
            return set_flags(request);
        case seat_request::kind::take:
            return take(request);
        case seat_request::kind::leave: {
            seat_outcome out;
            if (!stand(request.member)) out.error = seat_error::not_seated;
            out.seats_changed = out.error == seat_error::none;
            return out;
        }
        case seat_request::kind::move:
            return move(request);
        case seat_request::kind::hand:
            return hand(request);
    }
    return {};
}

seat_outcome seat_state::set_count(uint32_t count) {
    seat_outcome out;
    count = std::min(count, seats_max);
    if (count == _count) return out;
    // Seats beyond the new count forget their sitter, lock and mute; new ones start empty.
    for (uint32_t i = std::min(count, _count); i < seats_max; ++i) _seats[i] = seat{};
    _count = count;
    out.seats_changed = true;
    return out;
}

seat_outcome seat_state::set_flags(const seat_request& request) {
    seat_outcome out;
    if (request.seat < 0 || uint32_t(request.seat) >= _count) {
        out.error = seat_error::no_such_seat;
        return out;
    }
    seat& s = _seats[uint32_t(request.seat)];
    seat before = s;
    if (request.locked >= 0) s.locked = request.locked != 0;
    if (request.muted >= 0) s.muted = request.muted != 0;
    if (s.locked) s.member = 0;  // locking an occupied seat stands its member up
    out.seats_changed =
        before.locked != s.locked || before.muted != s.muted || before.member != s.member;
    return out;
}

seat_outcome seat_state::take(const seat_request& request) {
    seat_outcome out;
    int index = request.seat;
    if (index < 0) {
        if (_count == 0) {
            out.error = seat_error::no_such_seat;
            return out;
        }
        if (seat_of(request.member) >= 0) return out;  // already seated: nothing happens
        for (uint32_t i = 0; i < _count && index < 0; ++i)
            if (_seats[i].member == 0 && !_seats[i].locked) index = static_cast<int>(i);
        if (index < 0) {
            out.error = seat_error::seat_taken;
            return out;
        }
    } else if (uint32_t(index) >= _count) {
        out.error = seat_error::no_such_seat;
        return out;
    }
    seat& s = _seats[uint32_t(index)];
    if (s.member == request.member) return out;
    if (s.member != 0) {
        out.error = seat_error::seat_taken;
        return out;
    }
    if (s.locked) {
        out.error = seat_error::seat_locked;
        return out;
    }
    sit(request.member, uint32_t(index));
    out.seats_changed = true;
    out.hand_changed = lower_hand(request.member);
    return out;
}

seat_outcome seat_state::move(const seat_request& request) {
    seat_outcome out;
    if (request.seat < 0) {
        out.seats_changed = stand(request.member);
        return out;
    }
    if (uint32_t(request.seat) >= _count) {
        out.error = seat_error::no_such_seat;
        return out;
    }
    seat& s = _seats[uint32_t(request.seat)];
    if (s.member == request.member) return out;
    if (s.member != 0) {
        out.error = seat_error::seat_taken;
        return out;
    }
    sit(request.member, uint32_t(request.seat));  // a locked seat is the host's to fill
    out.seats_changed = true;
    out.hand_changed = lower_hand(request.member);
    return out;
}

seat_outcome seat_state::hand(const seat_request& request) {
    seat_outcome out;
    bool raised = hand_raised(request.member);
    if (raised == request.raised) return out;
    if (request.raised) {
        _hands.push_back(request.member);
    } else {
        lower_hand(request.member);
    }
    out.hand_changed = true;
    return out;
}

void seat_state::sit(uint32_t member, uint32_t index) {
    stand(member);
    _seats[index].member = member;
}

bool seat_state::stand(uint32_t member) {
    int index = seat_of(member);
    if (index < 0) return false;
    _seats[uint32_t(index)].member = 0;
    return true;
}

bool seat_state::lower_hand(uint32_t member) {
    auto found = std::find(_hands.begin(), _hands.end(), member);
    if (found == _hands.end()) return false;
    _hands.erase(found);
    return true;
}

void seat_state::append_seats_json(std::string& out) const {
    out += "\"count\":" + std::to_string(_count) + ",\"list\":[";
    for (uint32_t i = 0; i < _count; ++i) {
        const seat& s = _seats[i];
        if (i) out += ',';
        out += "{\"seat\":" + std::to_string(i) + ",\"member\":";
        out += s.member ? std::to_string(s.member) : "null";
        out += s.locked ? ",\"locked\":true" : ",\"locked\":false";
        out += s.muted ? ",\"muted\":true}" : ",\"muted\":false}";
    }
    out += ']';
}

void seat_state::append_hands_json(std::string& out) const {
    out += '[';
    for (size_t i = 0; i < _hands.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(_hands[i]);
    }
    out += ']';
}

std::string seat_state::encode_seats() const {
    std::string out = std::to_string(_count);
    for (uint32_t i = 0; i < _count; ++i) {
        const seat& s = _seats[i];
        out += ';';
        out += std::to_string(s.member);
        out += ':';
        out += char('0' + (s.locked ? 1 : 0) + (s.muted ? 2 : 0));
    }
    return out;
}

std::string seat_state::encode_hands() const {
    std::string out;
    for (size_t i = 0; i < _hands.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(_hands[i]);
    }
    return out;
}

bool seat_state::decode_seats(std::string_view text) {
    size_t at = text.find(';');
    uint32_t count = 0;
    if (!parse_u32(text.substr(0, at), &count) || count > seats_max) return false;
    std::array<seat, seats_max> seats{};
    std::string_view rest = at == std::string_view::npos ? std::string_view() : text.substr(at + 1);
    for (uint32_t i = 0; i < count; ++i) {
        size_t end = rest.find(';');
        std::string_view item = rest.substr(0, end);
        size_t colon = item.find(':');
        if (colon == std::string_view::npos || colon + 2 != item.size()) return false;
        char flags = item[colon + 1];
        if (!parse_u32(item.substr(0, colon), &seats[i].member) || flags < '0' || flags > '3')
            return false;
        seats[i].locked = (flags - '0') & 1;
        seats[i].muted = (flags - '0') & 2;
        if (end == std::string_view::npos) {
            if (i + 1 != count) return false;
            rest = {};
        } else {
            if (i + 1 == count) return false;
            rest.remove_prefix(end + 1);
        }
    }
    if (count == 0 && at != std::string_view::npos) return false;
    for (uint32_t i = 0; i < count; ++i)  // one seat per member
        for (uint32_t k = i + 1; k < count; ++k)
            if (seats[i].member && seats[i].member == seats[k].member) return false;
    _count = count;
    _seats = seats;
    return true;
}

bool seat_state::decode_hands(std::string_view text) {
    std::vector<uint32_t> hands;
    while (!text.empty()) {
        size_t end = text.find(',');
        uint32_t id = 0;
        if (!parse_u32(text.substr(0, end), &id) || id == 0) return false;
        if (std::find(hands.begin(), hands.end(), id) != hands.end()) return false;
        hands.push_back(id);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
        if (text.empty()) return false;  // a trailing comma
    }
    _hands = std::move(hands);
    return true;
}

std::string seats_event_after(const seat_state& state, uint32_t by) {
    std::string out = ",\"by\":" + std::to_string(by) + ",";
    state.append_seats_json(out);
    out += '}';
    return out;
}

std::string hand_event_after(uint32_t by, uint32_t member, bool raised) {
    return ",\"by\":" + std::to_string(by) + ",\"member\":" + std::to_string(member) +
           (raised ? ",\"raised\":true}" : ",\"raised\":false}");
}

}  // namespace chorus::core
