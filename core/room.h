// A voice room on its home shard: its members and their one lifecycle (add, attach, present,
// detach, away, erase), the seq'd history (its ledger), held whispers, and fan-out of audio and
// events through the session writer (a data structure with injected delivery, after
// uWebSockets' TopicTree). No sockets, HTTP or cluster here: it is unit-tested with a bare writer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/audio_clock.h"
#include "core/member_index.h"
#include "core/member_names.h"
#include "core/room_ledger.h"
#include "core/seats.h"
#include "core/session_writer.h"
#include "core/speaking.h"

namespace chorus::core {

class room;

// One of these lives for every room member; see the size bound below.
struct member {
    uint32_t id = 0;
    uint32_t present_index = UINT32_MAX;  // position in the room's present list
    uint32_t away_index = UINT32_MAX;     // position in the shard's away list
    bool muted : 1 = false;
    bool admin_muted : 1 = false;  // an admin's mute is sticky: the member cannot unmute itself
    bool speak : 1 = true;
    bool admin : 1 = false;
    bool leaving : 1 = false;       // its leave is on its way (a room_sync that is not instant)
    uint16_t node = 0;              // 0: on this node, else where a room_sync says it lives
    member_names names;             // shared with its joined event in the room's history
    session* connection = nullptr;  // nullptr while away
    room* home = nullptr;
    uint64_t resume_session = 0;  // bound into the resume token; a new join gets a new one
    uint64_t away_deadline_ms = 0;
    // Text whispers that arrived while it was not present; allocated only then.
    std::unique_ptr<std::vector<shared_frame*>> held_whispers;

    std::string_view user() const { return names.user(); }
    std::string_view name() const { return names.name(); }
};
// A member per room member, allocated on its own: 64 bytes is an allocator size class (the names
// are a pointer to a shared block, and nothing per member is inline that only some need).
static_assert(sizeof(member) <= 64, "a member per room member: keep it small");

// Members waiting out a deadline (resume grace) on this shard, in no order.
class away_list {
  public:
    // Adds `m` (or moves its deadline when it is in the list already).
    void add(member& m, uint64_t deadline_ms);
    void remove(member& m);
    bool empty() const { return _members.empty(); }
    // Calls `expired(member&)` for each member past its deadline; the call must remove it.
    template <typename Fn>
    void expire(uint64_t now_ms, Fn&& expired) {
        for (size_t i = 0; i < _members.size();) {
            member* m = _members[i];
            if (m->away_deadline_ms > now_ms) {
                ++i;
                continue;
            }
            expired(*m);  // swaps another member into slot i
        }
    }

  private:
    std::vector<member*> _members;
};

// What a room_sync keeps per room (the cluster's sync state); the room only owns it.
class room_extension {
  public:
    virtual ~room_extension() = default;
};

class room {
  public:
    using member_map = member_index;
    room(std::string_view id, std::unique_ptr<room_ledger> ledger, session_writer& writer,
         away_list& away, audio_clock& clock);
    ~room();
    room(const room&) = delete;
    room& operator=(const room&) = delete;

    const std::string& id() const { return _id; }
    room_ledger& ledger() { return *_ledger; }
    const member_map& members() const { return _members; }
    member* find(uint32_t id);
    member* find_user(std::string_view user);
    const std::vector<member*>& present() const { return _present; }
    seat_state& seats() { return _seats; }
    const seat_state& seats() const { return _seats; }
    speaking_set& speaking() { return _speaking; }
    uint32_t local_members() const { return _local; }    // node 0: present, away or leaving
    uint32_t remote_members() const { return _remote; }  // members of other nodes

    // The lifecycle. `add` takes a new member (a stale one with its id goes first).
    member& add(std::unique_ptr<member> fresh);
    // Binds member and connection; the member becomes present with `make_present`.
    void attach(member& m, session& s);
    void make_present(member& m);
    // The connection is gone (or taken over): no longer present.
    void detach(member& m);
    // Dropped without a close frame (or closed 1001/1011/1013): away for the resume grace.
    void go_away(member& m);
    void hold(member& m, uint64_t deadline_ms) { _away.add(m, deadline_ms); }
    void stay(member& m) { _away.remove(m); }
    // Gone for good: detached, off the away list, held whispers dropped, then destroyed.
    void erase(member& m);
    // A member of another node came here, or the reverse (counts and metrics follow).
    void make_local(member& m);
    void make_remote(member& m, uint16_t node);

    // Queues room audio to every present member but `except`. The hot path: no allocation.
    // With the audio clock on, it waits in their queues for the room's next window.
    void deliver_audio(shared_frame* frame, const member* except) {
        if (_clock.on()) return hold_audio(frame, except);
        for (member* other : _present)
            if (other != except) _writer.queue_audio(*other->connection, frame);
    }
    // Audio for one present member (a whisper), on the room's clock like the rest.
    void deliver_audio_to(member& target, shared_frame* frame);
    // The room's window is over: what its members hold goes out in this pass.
    void release_audio();
    audio_clock::entry& window() { return _window; }
    // Queues a control frame to every present member but `except`.
    void broadcast(shared_frame* frame, const member* except);
    // Records event `seq` (its JSON carries the seq) in the history and broadcasts it.
    void publish_event(uint64_t seq, std::string_view json, const member* except);
    // Records `m`'s joined event (seq `seq`) in the history, as its fields, and broadcasts it.
    void publish_joined(const member& m, uint64_t seq, const member* except);
    // The joined event of `m` as it is now, numbered `seq`; its names point into `m`.
    static joined_event joined_of(const member& m, uint64_t seq);
    // A text whisper: queued when `target` is present, else held for its welcome (bounded).
    void whisper(member& target, shared_frame* frame);
    // Queues the whispers held for `m` to its connection.
    void flush_held(member& m);
    void drop_held(member& m);
    // Works the speaking set out and, when it changed and is due, tells the present members.
    void poll_speaking(uint64_t now_ms) {
        if (_speaking.active() && _speaking.poll(now_ms)) broadcast_text(_speaking.json());
    }
    // A member just welcomed (and replayed) hears who is speaking, when anyone is.
    void send_speaking(member& m);
    // Queues `json` to every present member (not recorded: no seq).
    void broadcast_text(std::string_view json);
    // Applies a mute by `by` (an admin's mute is sticky).
    static void set_muted(member& m, bool muted, uint32_t by);

    // {"member":..,"user":..,"name":..,"muted":..,"speak":..,"admin":..}
    static void append_member(std::string& out, const member& m);
    std::string welcome_json(const member& m, uint64_t seq, bool resumed, bool gap,
                             std::string_view resume_token) const;

    std::unique_ptr<room_extension> extension;  // the room_sync's state for this room

  private:
    void hold_audio(shared_frame* frame, const member* except);

    std::string _id;
    std::unique_ptr<room_ledger> _ledger;
    session_writer& _writer;
    away_list& _away;
    audio_clock& _clock;
    audio_clock::entry _window;
    member_map _members;            // present and away (and, in a cluster, other nodes'); owned
    std::vector<member*> _present;  // fan-out targets, contiguous
    uint32_t _local = 0;
    uint32_t _remote = 0;
    seat_state _seats;
    speaking_set _speaking;
};

}  // namespace chorus::core
