// libFuzzer target for the messages a node takes from Redis channels and Streams: the envelope
// and member-record parsers must accept or reject any bytes without reading outside them, and
// what they accept must be self-consistent (views inside the input, numbers in range). The seat
// and hand state a seats or hand event carries must decode or be refused, and round-trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/cluster/cluster_envelope.h"
#include "core/seats.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::core;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    envelope e;
    if (parse_room_envelope(input, &e)) {
        check(e.type == 'E' || e.type == 'M' || e.type == 'R');
        check(inside(e.body, input) && inside(e.a1, input) && inside(e.a2, input) &&
              inside(e.instance, input));
        if (e.type == 'E') check(e.seq > 0 && e.member > 0 && e.body.front() == '{');
        if (e.type == 'E' && (e.kind == 's' || e.kind == 'h')) {
            seat_state state;
            bool ok = e.kind == 's' ? state.decode_seats(e.a1) : state.decode_hands(e.a1);
            if (ok) {
                seat_state again;
                std::string text = e.kind == 's' ? state.encode_seats() : state.encode_hands();
                check(e.kind == 's' ? again.decode_seats(text) : again.decode_hands(text));
                check(again.count() <= seats_max && again.hands() == state.hands());
                check(again.encode_seats() == state.encode_seats());
            }
        }
    }
    if (parse_node_envelope(input, &e)) {
        check(e.type == 'W' || e.type == 'V');
        check(!e.room.empty() && e.room.size() <= 64 && e.member > 0 && e.body.size() >= 2);
        check(inside(e.room, input) && inside(e.body, input));
    }
    member_record r;
    if (parse_member_record(input, &r)) {
        check(!r.instance.empty() && !r.user.empty());
        std::string again = make_member_record(r.instance, r.session, r.muted, r.admin_muted,
                                               r.user, r.name, r.speak, r.admin);
        member_record back;
        check(parse_member_record(again, &back) && back.session == r.session &&
              back.user == r.user && back.name == r.name && back.muted == r.muted &&
              back.admin_muted == r.admin_muted && back.speak == r.speak && back.admin == r.admin);
    }
    return 0;
}
