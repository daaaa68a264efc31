// A room's member-id allocation, event sequence and bounded history of encoded events. On one
// node (local_sync) the ledger is the authority for all three. In a cluster, Redis allocates ids
// and numbers events (core/cluster/), and the ledger keeps this node's applied seq (advance_to)
// and the history it replays to members here; so the cluster never goes around it for those.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/frame_pool.h"
#include "core/member_names.h"

namespace chorus::core {

// A member's `joined` event as the fields it is made of. Every member of a room has one in the
// history, so the history keeps these fields (24 bytes, the names shared with the member) rather
// than the encoded frame (about 180), and renders the frame again when a resume replays it.
struct joined_event {
    uint64_t seq = 0;
    uint32_t member = 0;
    member_names names;  // the member's, shared: the history keeps a reference
    bool muted = false;
    bool speak = true;
    bool admin = false;
    // {"type":"joined","seq":..,"member":..,"user":..,"name":..,"muted":..,"speak":..,"admin":..}
    // The one rendering of the event: the live broadcast and a replay both use it, so a resuming
    // member is sent the bytes the others were sent.
    void append_json(std::string& out) const;
};

class room_ledger {
  public:
    virtual ~room_ledger() = default;
    // A member id unique in the room while it is present or resumable (1..2^32-1).
    virtual uint32_t allocate_member() = 0;
    // Takes the next seq for a room event (the first event of a room gets 1).
    virtual uint64_t next_seq() = 0;
    virtual uint64_t current_seq() const = 0;
    // Cluster mode: the room's seq comes from Redis. Moves the counter up to `seq`; a jump
    // forgets the history, which no longer runs without holes.
    virtual void advance_to(uint64_t seq) = 0;
    // Keeps the encoded event `frame` (retained) as event `seq` in the bounded history.
    virtual void record(uint64_t seq, shared_frame* frame) = 0;
    // Keeps a `joined` event (event.seq) as its fields, with a reference to its names.
    virtual void record_joined(const joined_event& event) = 0;
    // Visits every event with seq > after, in order; `frame` is valid during the call only (a
    // joined event is rendered for it), so a visitor that keeps it retains it. Returns false,
    // visiting nothing, when the history no longer reaches back that far.
    virtual bool replay(uint64_t after, const std::function<void(shared_frame*)>& visit) const = 0;
};

// Creates the ledger of a room that begins on this node.
class ledger_factory {
  public:
    virtual ~ledger_factory() = default;
    virtual std::unique_ptr<room_ledger> open(std::string_view room, frame_pool& pool) = 0;
};

// Single node: everything lives in the room's own memory.
class local_ledger final : public room_ledger {
  public:
    local_ledger(frame_pool& pool, uint32_t history_max) : _pool(pool), _history_max(history_max) {}
    ~local_ledger() override;
    uint32_t allocate_member() override;
    uint64_t next_seq() override { return ++_seq; }
    uint64_t current_seq() const override { return _seq; }
    void advance_to(uint64_t seq) override;
    void record(uint64_t seq, shared_frame* frame) override;
    void record_joined(const joined_event& event) override;
    bool replay(uint64_t after, const std::function<void(shared_frame*)>& visit) const override;

  private:
    // A frame, or a joined event: its flags and member id here, and in `names` a reference to
    // its member_names (member_names::into_raw).
    struct entry {
        uint64_t seq;
        union {
            shared_frame* frame;
            const void* names;
        };
        uint32_t member;
        uint8_t joined_flags;  // 0: a frame; else joined_flag_event | muted | speak | admin
    };
    // One of these per kept event, and every member's joined is one: 24 bytes, 21 to a deque
    // block. A frame's bytes live in its frame; a joined's names are the member's.
    static_assert(sizeof(entry) <= 24, "an entry per kept event");
    static constexpr uint8_t joined_flag_event = 1, joined_flag_muted = 2, joined_flag_speak = 4,
                             joined_flag_admin = 8;
    void push(const entry& e);
    void drop(entry& e);
    shared_frame* render(const entry& e) const;
    frame_pool& _pool;
    uint32_t _history_max;
    uint64_t _seq = 0;
    uint32_t _next_member = 0;
    std::deque<entry> _history;
};

class local_ledger_factory final : public ledger_factory {
  public:
    explicit local_ledger_factory(uint32_t history_max) : _history_max(history_max) {}
    std::unique_ptr<room_ledger> open(std::string_view, frame_pool& pool) override {
        return std::make_unique<local_ledger>(pool, _history_max);
    }

  private:
    uint32_t _history_max;
};

}  // namespace chorus::core
