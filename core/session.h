// What a shard keeps per connection (session) and per room member. Sessions live in a fixed
// table indexed like the loop's connection slab; members live in their room. A member outlives
// its session while it is away (resume grace), and a resumed member gets a new session.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/token_bucket.h"
#include "core/frame_pool.h"
#include "core/outbound_queue.h"
#include "core/room_ledger.h"
#include "net/loop.h"
#include "ws/message_reader.h"

namespace chorus::core {

struct room;
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
    uint32_t opened_ms = 0;   // shard clock (ms since the shard started)
    uint32_t last_activity_ms = 0;
    uint32_t last_ping_ms = 0;
    uint32_t ip_slot = UINT32_MAX;  // per-IP counter slot, UINT32_MAX when not counted
    uint32_t handoff_to = 0;        // the room's home shard while the socket is being moved
    uint32_t in_flight_bytes = 0;   // bytes of the send the kernel holds now
    uint32_t pass_bytes = 0;        // bytes queued during pass `pass_id`
    uint32_t pass_id = 0;
    uint32_t error_second[static_cast<int>(limited_error::count)] = {};  // ms of last, +1
    uint32_t closing_since_ms = 0;
    ws::message_reader reader{ws::role::server, 0};
    outbound_queue out;
    std::unique_ptr<std::string> http_in;  // the request head while in the http phase
    member* self = nullptr;                // room sessions: the member this connection is
    base::token_bucket text_bucket;
};

// Field order packs the struct into 120 bytes: one of these lives for every room member.
struct member {
    uint32_t id = 0;
    uint32_t present_index = UINT32_MAX;  // position in room::present
    uint32_t away_index = UINT32_MAX;     // position in the shard's away list
    bool muted : 1 = false;
    bool admin_muted : 1 = false;  // an admin's mute is sticky: the member cannot unmute itself
    bool speak : 1 = true;
    bool admin : 1 = false;
    bool leaving : 1 = false;  // cluster: its leave is on its way through Redis
    uint16_t node = 0;         // cluster: 0 on this node, else an index in the shard's node table
    std::string user;
    std::string name;
    session* connection = nullptr;  // nullptr while away
    room* home = nullptr;
    uint64_t resume_session = 0;  // bound into the resume token; a new join gets a new one
    uint64_t away_deadline_ms = 0;
    // Text whispers that arrived while away; allocated only then.
    std::unique_ptr<std::vector<shared_frame*>> held_whispers;
};
static_assert(sizeof(member) <= 120, "a member per room member: keep it small");

// Cluster mode: a member whose welcome waits until the room's events reach its seq.
struct welcome_wait {
    uint32_t member = 0;
    uint64_t seq = 0;                 // the welcome's seq
    std::string json;                 // the welcome itself
    std::vector<std::string> missed;  // resumed: events replayed from the Stream (up to seq)
};

struct room {
    std::string id;
    std::unique_ptr<room_ledger> ledger;
    std::unordered_map<uint32_t, std::unique_ptr<member>> members;  // present and away
    std::vector<member*> present;                                   // fan-out targets, contiguous
    // Cluster mode only: members of other nodes live in `members` too (node != 0).
    uint32_t local_members = 0;  // on this node: present, away or leaving
    uint32_t remote_members = 0;
    uint32_t pending = 0;                   // scripts of this room waiting for Redis
    bool synced = false;                    // the member list and seq came from Redis
    bool restoring = false;                 // a restore script is on its way
    std::map<uint64_t, std::string> early;  // events that arrived before the member list
    std::vector<std::string> early_moves;   // M and R messages from that time, in order
    std::vector<welcome_wait> welcomes;
};

}  // namespace chorus::core
