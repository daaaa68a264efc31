// libFuzzer target for parse_control, the first thing every client text message meets: feeds
// the input (padded as the shard pads it) and checks the parser's promises. A small strict JSON
// grammar check is the oracle for what may be accepted (CHORUS_FUZZ_STRICT=0 turns it off). An
// accepted v1.1 seat or hand message is then applied to a seated room's seat_state, whose
// invariants (one seat per member, one hand per member, its text form round-trips) must hold.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/control_message.h"
#include "core/seats.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

// A strict RFC 8259 recogniser (numbers of any size are fine, as they are for the server).
class json_grammar {
  public:
    explicit json_grammar(std::string_view text) : _text(text) {}

    bool whole_value() {
        skip_space();
        if (!value(0)) return false;
        skip_space();
        return _at == _text.size();
    }

  private:
    static constexpr int depth_max = 1024;

    bool more() const { return _at < _text.size(); }
    char peek() const { return more() ? _text[_at] : '\0'; }
    bool eat(char c) {
        if (!more() || peek() != c) return false;
        ++_at;
        return true;
    }
    void skip_space() {
        while (more() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
            ++_at;
    }
    bool literal(std::string_view word) {
        if (_text.substr(_at, word.size()) != word) return false;
        _at += word.size();
        return true;
    }
    bool digits() {
        size_t start = _at;
        while (more() && peek() >= '0' && peek() <= '9') ++_at;
        return _at > start;
    }
    bool number() {
        eat('-');
        if (eat('0')) {
            if (more() && peek() >= '0' && peek() <= '9') return false;
        } else if (!digits()) {
            return false;
        }
        if (eat('.') && !digits()) return false;
        if (eat('e') || eat('E')) {
            if (!eat('+')) eat('-');
            if (!digits()) return false;
        }
        return true;
    }
    static bool hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    // Escapes and control characters only; the bytes were UTF-8 checked before the parser.
    bool string() {
        if (!eat('"')) return false;
        while (more()) {
            auto c = static_cast<unsigned char>(_text[_at++]);
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c != '\\') continue;
            char e = peek();
            ++_at;
            if (e == 'u') {
                for (int i = 0; i < 4; ++i, ++_at)
                    if (!more() || !hex(peek())) return false;
            } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
                return false;
            }
        }
        return false;
    }
    bool value(int depth) {
        if (depth > depth_max) return false;
        char c = peek();
        if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            ++_at;
            skip_space();
            if (eat(close)) return true;
            while (true) {
                skip_space();
                if (c == '{') {
                    if (!string()) return false;
                    skip_space();
                    if (!eat(':')) return false;
                    skip_space();
                }
                if (!value(depth + 1)) return false;
                skip_space();
                if (eat(close)) return true;
                if (!eat(',')) return false;
            }
        }
        if (c == '"') return string();
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        return number();
    }

    std::string_view _text;
    size_t _at = 0;
};

bool strict_mode() {
    static const bool strict = [] {
        const char* value = std::getenv("CHORUS_FUZZ_STRICT");
        return value == nullptr || value[0] != '0';
    }();
    return strict;
}

simdjson::dom::parser& dom() {
    static simdjson::dom::parser parser;
    return parser;
}
simdjson::ondemand::parser& on_demand() {
    static simdjson::ondemand::parser parser;
    return parser;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The request member_input would hand to the room_sync for `m` (as if from member 1, a host).
bool seat_request_of(const chorus::core::control_message& m, chorus::core::seat_request& out) {
    using chorus::core::seat_request;
    auto seat_of = [](uint64_t seat) {
        return static_cast<int32_t>(std::min<uint64_t>(seat, chorus::core::seats_max));
    };
    out.member = m.has_member && m.member_id <= UINT32_MAX && m.member_id != 0
                     ? static_cast<uint32_t>(m.member_id)
                     : 1;
    if (m.type == "seats" && m.has_count) {
        out.what = seat_request::kind::count;
        out.count = static_cast<uint32_t>(std::min<uint64_t>(m.count, chorus::core::seats_max));
    } else if (m.type == "seat" && m.has_seat && !m.seat_null && (m.has_locked || m.has_muted)) {
        out.what = seat_request::kind::flags;
        out.seat = seat_of(m.seat);
        if (m.has_locked) out.locked = m.locked;
        if (m.has_muted) out.muted = m.muted;
    } else if (m.type == "take_seat" || m.type == "move") {
        out.what = m.type == "move" ? seat_request::kind::move : seat_request::kind::take;
        if (m.has_seat && !m.seat_null) out.seat = seat_of(m.seat);
    } else if (m.type == "leave_seat") {
        out.what = seat_request::kind::leave;
    } else if (m.type == "hand" && m.has_raised) {
        out.what = seat_request::kind::hand;
        out.raised = m.raised;
    } else {
        return false;
    }
    return true;
}

void check_seats(const chorus::core::control_message& message) {
    using namespace chorus::core;
    check(message.has_seat || (message.seat == 0 && !message.seat_null));
    check(message.has_count || message.count == 0);
    check(message.has_locked || !message.locked);
    check(message.has_raised || !message.raised);
    seat_request request;
    if (!seat_request_of(message, request)) return;
    seat_state state;
    check(state.decode_seats("4;7:0;0:1;1:2;0:3"));
    check(state.decode_hands("9,7,3"));
    std::string before = state.encode_seats() + "|" + state.encode_hands();
    seat_outcome outcome = state.apply(request);
    std::string after = state.encode_seats() + "|" + state.encode_hands();
    if (outcome.error != seat_error::none) check(before == after);
    if (!outcome.seats_changed && !outcome.hand_changed) check(before == after);
    check(state.count() <= seats_max);
    for (uint32_t i = 0; i < state.count(); ++i)
        if (state.at(i).member) check(state.seat_of(state.at(i).member) == int(i));
    seat_state copy;
    check(copy.decode_seats(state.encode_seats()));
    check(copy.decode_hands(state.encode_hands()));
    check(copy.encode_seats() == state.encode_seats());
    check(copy.hands() == state.hands());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::core;
    std::string input(reinterpret_cast<const char*>(data), size);
    input.resize(size + simdjson::SIMDJSON_PADDING, '\0');
    control_message message;
    const char* problem = parse_control(dom(), on_demand(), input, size, message);
    if (problem != nullptr) {
        check(problem[0] != '\0');
        return 0;
    }
    // Accepted: a type the shard can dispatch on, held by the message itself.
    check(!message.type.empty());
    check(message.type == message.type_storage);
    check(message.type.data() == message.type_storage.data());
    check(message.has_text || message.text.empty());
    check(message.has_to || message.to == 0);
    check(message.has_member || message.member_id == 0);
    check(message.has_muted || !message.muted);
    check(message.has_t || message.t.empty());
    check_seats(message);
    if (message.has_t) {
        check(!message.t.empty());
        check(!is_space(message.t.front()) && !is_space(message.t.back()));
        // Verbatim: the echoed text is a piece of the input.
        check(std::string_view(input.data(), size).find(message.t) != std::string_view::npos);
    }
    if (strict_mode()) {
        check(json_grammar(std::string_view(input.data(), size)).whole_value());
        if (message.has_t) {
            std::string pong = "{\"type\":\"pong\",\"t\":" + message.t + "}";
            check(json_grammar(pong).whole_value());
        }
    }
    return 0;
}
