// The messages nodes exchange through Redis channels and Streams (written by core/cluster/
// scripts.cc and by shards). They arrive from the network, so parsing is strict and total:
// anything malformed is rejected, never trusted.
//   room channel / Stream:  E|seq|kind|member|a1|a2|op|json
//                                                          a room event (seq'd; kinds j l m c,
//                                                          s seats and h hand: a1 is the whole
//                                                          new state in seat_state's text form;
//                                                          op: the writing node's id of the
//                                                          script run, or empty)
//                           M|member|instance|             a member resumed on another node
//                           R|instance|                    members re-registered after data loss
//   node channel:           W|room|member|frame            text whisper for a member here
//                           B|instance|records             room audio of many rooms (audio_batch.h)
//                           V|room|member|frame            audio whisper for a member here
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::core {

// The longest op id an event may carry (a node's instance, a dot and a counter).
constexpr size_t op_id_bytes_max = 128;

struct envelope {
    char type = 0;
    uint64_t seq = 0;  // E
    char kind = 0;     // E: j joined, l left, m muted, c chat, s seats, h hand
    uint32_t member = 0;
    std::string_view a1, a2;  // E: event arguments
    std::string_view op;      // E: the script run's id (scripts.cc), empty for none
    std::string_view instance;
    std::string_view room;
    std::string_view body;  // E: the event's JSON; W, V: the WebSocket frame
};

// Parses a room-channel or Stream message (E, M, A, L, R). False when malformed.
bool parse_room_envelope(std::string_view in, envelope* out);
// Parses a node-channel message (W, V). False when malformed.
bool parse_node_envelope(std::string_view in, envelope* out);

// A member record as the scripts keep it: instance, session, muted, user, name, and a last
// field of flags: 1 speak + 2 admin.
struct member_record {
    std::string_view instance;
    uint64_t session = 0;
    bool muted = false;
    bool admin_muted = false;  // muted by an admin: the member cannot unmute itself
    std::string_view user;     // JSON-escaped
    std::string_view name;     // JSON-escaped
    bool speak = true;
    bool admin = false;
};
bool parse_member_record(std::string_view in, member_record* out);
std::string make_member_record(std::string_view instance, uint64_t session, bool muted,
                               bool admin_muted, std::string_view user_escaped,
                               std::string_view name_escaped, bool speak, bool admin);

}  // namespace chorus::core
