// The cluster's room_sync (docs/CLUSTER.md): a shard's rooms shared with other nodes through
// Redis. Joins, resumes, leaves and events run as room scripts through the cluster engine; room
// events come back on the room's channel and are applied in seq order on every node; audio and
// whispers cross once per frame. When Redis is unreachable the rooms go on among the members of
// this node (local_rules). Wired in from main through cluster_sync_provider.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/cluster/cluster_envelope.h"
#include "core/cluster/cluster_port.h"
#include "core/room_sync.h"

namespace chorus::core::cluster {

// A member whose welcome waits until the room's events reach its seq.
struct welcome_wait {
    uint32_t member = 0;
    uint64_t seq = 0;                 // the welcome's seq
    std::string json;                 // the welcome itself
    std::vector<std::string> missed;  // resumed: events replayed from the Stream (up to seq)
};

// What the cluster keeps per room (the room's extension).
struct cluster_room final : room_extension {
    uint32_t pending = 0;                   // scripts of this room waiting for Redis
    bool synced = false;                    // the member list and seq came from Redis
    bool restoring = false;                 // a restore script is on its way
    bool restore_again = false;             // another node re-registered members meanwhile
    std::map<uint64_t, std::string> early;  // events that arrived before the member list
    std::vector<std::string> early_moves;   // M and R messages from that time, in order
    std::vector<welcome_wait> welcomes;
};

class cluster_sync final : public room_sync {
  public:
    cluster_sync(const sync_context& context, cluster_engine& engine, cluster_hub& hub);
    ~cluster_sync() override;
    void join(session& s, join_request&& request) override;
    void leave(member& m, std::string_view reason) override;
    void kick(member& target) override;
    void post_event(room& r, room_event&& event) override;
    void change_seats(room& r, member& by, const seat_request& request) override;
    void publish_audio(room& r, const shared_frame* frame, uint32_t from, uint8_t level) override;
    bool route_whisper(room& r, member& target, const shared_frame* frame, char type) override;
    void poll() override;
    void end_pass() override;

  private:
    enum class op_kind : uint8_t { join, resume, leave, event, restore, seats };
    struct pending_op {
        op_kind kind = op_kind::join;
        net::conn_handle conn;
        std::string room;
        uint32_t member = 0;
        bool speak = true, admin = false, chorus_v1 = false, has_last_seq = false;
        bool muted = false;
        bool resume_failed = false;  // join: it asked to resume and could not ("gap": true)
        uint64_t session = 0, last_seq = 0, resume_session = 0;
        std::string user, name;     // join, resume
        std::string before, after;  // event: its JSON around the seq (for degraded delivery)
        char event_kind = 0;
        uint32_t by = 0;
        std::string reason;  // leave
        seat_request seat;   // seats: the request, from `by`
        uint32_t tries = 0;  // seats: commits refused as stale so far
        std::string op_id;   // event, leave: what the events it writes carry (first_delivery)
    };
    struct node_entry {
        std::string instance;
        uint64_t last_seen_ms = 0;
        bool dead = false;
    };
    static cluster_room& state(room& r) { return static_cast<cluster_room&>(*r.extension); }

    // cluster_provider.cc: rooms opening and ending here
    room& open_room(std::string_view room_id);
    void maybe_end_room(room& r);

    // cluster_sync.cc: requests to Redis and their replies
    bool link_up(std::string_view room) const;
    void cluster_post(cluster_request* request);
    void cluster_flush();
    void drain_cluster_ring();
    uint64_t run_room_script(room& r, room_script script, std::vector<std::string> args,
                             pending_op op);
    void cluster_join(session& s, room& r, pending_op op);
    void cluster_resume(session& s, std::string_view room_id, pending_op op);
    void cluster_leave(member& m, std::string_view reason);
    void cluster_room_event(room& r, char kind, uint32_t member, std::string a1, std::string a2,
                            std::string before, std::string after, uint32_t mute_target);
    void cluster_publish_audio(room& r, const shared_frame* frame, uint32_t from, uint8_t level);

    // cluster_seats.cc: seat and hand changes
    // Degraded: a seat request applied among the members here (Redis learns nothing of it).
    void local_seats(room& r, member& by, const seat_request& request);
    // Works `request` out from `from` (the room's seats as this node or Redis last had them)
    // and asks Redis to commit it if its seats are still `from`.
    void commit_seats(room& r, uint32_t by, const seat_request& request, const seat_state& from,
                      uint32_t tries);
    void on_seats_reply(pending_op& op, room& r, cluster_event& e);
    void seat_error_to(room& r, uint32_t member, std::string_view code, std::string_view text);
    std::string new_room_seats() const;
    bool cluster_whisper(room& r, member& target, const shared_frame* frame, char type);
    void on_cluster_event(cluster_event& e);
    void on_join_reply(pending_op& op, room& r, cluster_event& e);
    void on_resume_reply(pending_op& op, room& r, cluster_event& e);
    void on_leave_reply(pending_op& op, room& r, cluster_event& e);
    void on_event_reply(pending_op& op, room& r, cluster_event& e);
    welcome_wait welcome_for(room& r, const member& m, uint64_t seq, bool resumed, bool gap,
                             const reply_value& members, const reply_value& seats,
                             const reply_value& hands) const;
    void local_event(room& r, std::string_view before, std::string_view after);
    // An id for a script run whose events this node may deliver itself (instance.shard.counter).
    std::string next_op_id();
    // False when the event of `kind` written by this node's script run `op_id` was delivered
    // here already: on the channel before a failed reply, or here after it, when the script
    // ran in Redis after all (its connection failed after sending it). True (and remembered)
    // the first time, and always for other nodes' events.
    bool first_delivery(std::string_view op_id, char kind);

    std::string record_of(const member& m) const;

    // cluster_sync_apply.cc: what comes from the other nodes
    void on_room_message(room& r, std::string& payload);
    void on_node_message(cluster_event& e);
    void on_audio_batch(const cluster_event& e);
    void on_link(const cluster_event& e);
    void on_nodes(const cluster_event& e);
    void on_restore_reply(room& r, cluster_event& e);
    void apply_event(room& r, const envelope& env);
    void on_moved(room& r, const envelope& env);
    void relay_audio(room& r, std::string_view frame_bytes);
    // The seats and hands Redis sent with a join, resume or restore become the room's.
    void load_seats(room& r, const reply_value& seats, const reply_value& hands);
    void load_members(room& r, const reply_value& pairs, uint32_t except);
    std::string members_json(const reply_value& pairs, uint32_t except) const;
    void deliver_welcomes(room& r);
    void send_welcome(room& r, member& m, welcome_wait& w);
    member& add_member(room& r, std::unique_ptr<member> m);
    void add_remote_member(room& r, uint32_t id, const member_record& record, uint64_t deadline);
    void erase_member(room& r, member& m);
    uint16_t node_index(std::string_view instance);
    void node_dead(uint16_t node);
    void node_back(uint16_t node);
    void restore_rooms(uint32_t server);
    void restore_room(room& r);
    void apply_early(room& r);

    sync_context _context;
    session_writer& _writer;
    cluster_engine& _engine;
    cluster_hub& _hub;
    std::unordered_map<uint64_t, pending_op> _pending;
    uint64_t _next_tag = 1;
    std::deque<cluster_request*> _cluster_backlog;  // requests the full ring did not take
    bool _cluster_wake = false;
    std::vector<node_entry> _nodes;  // [0] is this process
    uint64_t _op_ids = 0;
    std::unordered_set<std::string> _delivered;  // op id + kind of own events, the newest
    std::deque<std::string> _delivered_order;    // the same, oldest first (bounded)
    std::vector<bool> _link_up;                  // per Redis server
    bool _all_links_up = false;                  // counted in hub.shards_linked while true
    std::vector<uint64_t> _epochs;               // per Redis server: the member-id epoch
    std::unordered_set<std::string> _orphans;    // rooms whose join may have run unanswered
};

// One per process: the engine's thread, the rings between it and the shards, and each shard's
// cluster_sync.
class cluster_sync_provider final : public room_sync_provider {
  public:
    explicit cluster_sync_provider(std::unique_ptr<cluster_engine> engine);
    ~cluster_sync_provider() override;
    void prepare(uint32_t shards, std::function<void(uint32_t)> wake_shard) override;
    std::unique_ptr<room_sync> open(const sync_context& context) override;
    bool start(std::string* error) override;
    void stop() override;
    bool healthy() const override;
    void append_metrics(std::string& out) const override;
    std::string describe() const override;

  private:
    std::unique_ptr<cluster_engine> _engine;
    cluster_hub _hub;
    uint32_t _shards = 0;
};

}  // namespace chorus::core::cluster
