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
    void fan_out_audio(member& from, std::span<const uint8_t> audio);
    void whisper_audio(session& s, member& from, std::span<const uint8_t> rest);
    void on_ping(session& s, const control_message& message);
    void on_chat(session& s, member& m, const control_message& message);
    void on_whisper(session& s, member& m, const control_message& message);
    void on_mute(session& s, member& m, const control_message& message);
    void on_kick(session& s, member& m, const control_message& message);
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
