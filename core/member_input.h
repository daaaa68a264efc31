// What a room member sends after the upgrade (PROTOCOL.md §3, §4). Text control messages are
// rate limited, parsed once into a fixed struct and handed to a handler of a screen each (ping,
// chat, whisper, mute, kick). Room audio is encoded once, fanned out by its room, then given to
// the room_sync once for the members elsewhere; audio whispers go to one member.
#pragma once

#include <simdjson.h>

#include <span>
#include <string>

#include "core/control_message.h"
#include "core/room_sync.h"

namespace chorus::core {

class member_input {
  public:
    member_input(session_writer& writer, room_sync& sync);
    void on_text(session& s, std::span<const uint8_t> payload);
    void on_binary(session& s, std::span<const uint8_t> payload);

  private:
    void fan_out_audio(member& from, std::span<const uint8_t> audio, uint8_t level);
    void whisper_audio(session& s, member& from, std::span<const uint8_t> rest);
    void on_ping(session& s, const control_message& message);
    void on_chat(session& s, member& m, const control_message& message);
    void on_whisper(session& s, member& m, const control_message& message);
    void on_mute(session& s, member& m, const control_message& message);
    void on_kick(session& s, member& m, const control_message& message);
    // member_seats.cc: the v1.1 seat and hand messages (permissions here, rules in seat_state).
    // True when it was one of them.
    bool on_seat_message(session& s, member& m, const control_message& message);
    void on_seats(session& s, member& m, const control_message& message);
    void on_seat(session& s, member& m, const control_message& message);
    void on_take_seat(session& s, member& m, const control_message& message);
    void on_move(session& s, member& m, const control_message& message);
    void on_hand(session& s, member& m, const control_message& message);
    // Room audio (0x01, or 0x03 with its level; `level` above 127: none) from `m`.
    void room_audio(session& s, member& m, std::span<const uint8_t> audio, uint8_t level);
    // The member of `m`'s room that `id` names, or null (an error is sent).
    member* target(session& s, member& m, uint64_t id);

    session_writer& _writer;
    room_sync& _sync;
    shard_metrics& _metrics;
    simdjson::ondemand::parser _json;
    simdjson::dom::parser _dom;
    std::string _json_input;  // padded copy of a text message
};

}  // namespace chorus::core
