// What a shard keeps per connection. Sessions live in a fixed table indexed like the loop's
// connection slab. A room session points at its member (core/room.h), which outlives the session
// while it is away (resume grace); a resumed member gets a new session.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/base/token_bucket.h"
#include "core/frame_pool.h"
#include "core/outbound_queue.h"
#include "net/loop.h"
#include "ws/message_reader.h"

namespace chorus::core {

struct member;

enum class session_phase : uint8_t { free, http, websocket, closing };
enum class session_kind : uint8_t { http, room, echo };

// Errors that are answered at most once a second (PROTOCOL.md §2).
enum class limited_error : uint8_t { too_fast, forbidden, bad_message, no_such_member, count };

struct session {
    net::conn_handle conn;
    session_phase phase = session_phase::free;
    session_kind kind = session_kind::http;
    bool sending = false;       // a send is in flight
    bool dirty = false;         // in the shard's flush list
    bool close_queued = false;  // a close frame (or final HTTP response) is queued: close after it
    bool ping_outstanding = false;
    bool counted = false;     // counted in the global connection limit
    bool parked = false;      // cluster: the request waits for Redis (join or resume)
    uint16_t close_code = 0;  // the close code we sent (0: none)
    uint16_t handoff_to = 0;  // the room's home shard while the socket is being moved
    uint32_t opened_ms = 0;   // shard clock (ms since the shard started)
    uint32_t last_activity_ms = 0;
    uint32_t last_ping_ms = 0;
    uint32_t ip_slot = UINT32_MAX;  // per-IP counter slot, UINT32_MAX when not counted
    uint32_t in_flight_bytes = 0;   // bytes of the send the kernel holds now
    uint32_t pass_bytes = 0;        // bytes queued during pass `pass_id`
    uint32_t held_bytes = 0;        // audio waiting for its room's window (--audio-batch)
    uint32_t pass_id = 0;
    uint32_t error_second[static_cast<int>(limited_error::count)] = {};  // ms of last, +1
    uint32_t closing_since_ms = 0;
    ws::message_reader reader{ws::role::server, 0};
    outbound_queue out;
    std::unique_ptr<std::string> http_in;  // the request head while in the http phase
    member* self = nullptr;                // room sessions: the member this connection is
    base::token_bucket text_bucket;
};
// The session table holds one per connection slot (--max-connections of them), allocated and
// written at start-up, so every byte here is paid for each possible connection, idle or not.
// The audio hot path (session_writer) touches conn, the flags, the pass counters and `out`.
static_assert(sizeof(session) <= 200, "a session per connection slot: keep it small");

}  // namespace chorus::core
