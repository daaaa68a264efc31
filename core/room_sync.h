// The one seam between a shard's rooms and the world beyond the shard: who may join or resume,
// how a member leaves, how an event gets its seq, where audio and whispers go beyond this node,
// and what happens at the end of a loop pass. `local_sync` (core/local_sync.h) is a single node;
// the Redis cluster implements the same interface in core/cluster/, wired in from main. The
// engine never asks which one it has. Audio pays one indirect call per received frame.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/join_request.h"
#include "core/room_table.h"
#include "core/session_writer.h"
#include "net/loop.h"

namespace chorus::core {

// A chat or mute event; its JSON is `before` + seq + `after`.
struct room_event {
    char kind = 'c';      // c: chat, m: mute
    uint32_t member = 0;  // m: the muted member
    bool muted = false;   // m
    uint32_t by = 0;      // m: who muted
    std::string before, after;
};

// What a room_sync may ask of the shard it runs on.
class sync_host {
  public:
    virtual ~sync_host() = default;
    virtual session* find(net::conn_handle conn) = 0;
    virtual void refuse(session& s, int status, std::string_view code,
                        std::string_view message) = 0;
    // Answers the request held in `s` with 101: the session is a WebSocket from here on.
    virtual void upgrade(session& s, bool chorus_v1) = 0;
};

// Everything a room_sync works with; all of it lives on (and outlives) the shard's thread.
struct sync_context {
    uint32_t shard = 0;
    const server_config& config;
    const std::string& resume_key;
    session_writer& writer;
    room_table& rooms;
    sync_host& host;
};

class room_sync {
  public:
    virtual ~room_sync() = default;
    // A join (or resume) for `s`, still in HTTP: ends upgraded and welcomed, refused, or parked
    // (s.parked) until the answer comes.
    virtual void join(session& s, join_request&& request) = 0;
    // The member leaves for good (it closed, was kicked by a close, or timed out).
    virtual void leave(member& m, std::string_view reason) = 0;
    // An admin kicks `target`.
    virtual void kick(member& target) = 0;
    // A chat or mute event from a member of `r`.
    virtual void post_event(room& r, room_event&& event) = 0;
    // A seat or hand request from `by`, its permissions checked (PROTOCOL.md v1.1 §3): applied
    // in the room's one order with its `seats` and `hand` events, or refused with an error to
    // `by`.
    virtual void change_seats(room& r, member& by, const seat_request& request) = 0;
    // Room audio of `from` already delivered here: carry it to the room's members elsewhere,
    // with the level of its 0x03 frame (above 127: it came as 0x01) for their speaking sets.
    virtual void publish_audio(room& r, const shared_frame* frame, uint32_t from,
                               uint8_t level) = 0;
    // A whisper (text 'W', audio 'V') for `target`: true when it went elsewhere.
    virtual bool route_whisper(room& r, member& target, const shared_frame* frame, char type) = 0;
    // Replies and messages that arrived (on a wake and each tick).
    virtual void poll() = 0;
    // The end of a loop pass: what this pass asked for goes out.
    virtual void end_pass() = 0;
};

// What a server-side close with `code` means for the member (PROTOCOL.md §6): away (1001, 1011,
// 1013: resumable), detached (4009: replaced or taken over; the caller emits what is needed), or
// gone (4001 kicked, anything else closed).
inline void member_closed(room_sync& sync, member& m, uint16_t code) {
    if (code == 1001 || code == 1011 || code == 1013) {
        m.home->go_away(m);
    } else if (code == 4009) {
        m.home->detach(m);
    } else {
        sync.leave(m, code == 4001 ? "kicked" : "closed");
    }
}

// One per process: makes each shard's room_sync and runs what they share.
class room_sync_provider {
  public:
    virtual ~room_sync_provider() = default;
    // Before the shards are made: `wake_shard(i)` wakes shard i's loop from any thread.
    virtual void prepare(uint32_t shards, std::function<void(uint32_t)> wake_shard) = 0;
    virtual std::unique_ptr<room_sync> open(const sync_context& context) = 0;
    // Once the shards run. False (with `*error`) when it cannot start.
    virtual bool start(std::string* error) = 0;
    virtual void stop() = 0;
    virtual bool healthy() const = 0;  // false: /healthz says degraded
    virtual void append_metrics(std::string& out) const = 0;
    virtual std::string describe() const = 0;  // for the ready line, e.g. ", node a:1"
};

}  // namespace chorus::core
