// One shard per core: it owns an event loop, a session table, the rooms whose home is this core,
// and its metrics. Nothing here is shared with other threads except through the SPSC ring grid
// (cross-core records) and the read-only server context. A WebSocket request for a room is
// handed to the room's home core right after its head is parsed, so that a room's fan-out is
// always core-local.
#pragma once

#include <simdjson.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/base/spsc_ring.h"
#include "core/cluster_envelope.h"
#include "core/cluster_port.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "core/room_ledger.h"
#include "core/session.h"
#include "net/loop.h"
#include "ws/http_request.h"

namespace chorus::core {

class shard;

enum class cross_kind : uint8_t { handoff, rooms_query, rooms_reply, drain };

// A fixed-size cross-core record. `data` carries an owned heap object for the rare control
// records (the request bytes of a handoff, a rooms listing); never used per audio frame.
struct cross_record {
    cross_kind kind;
    uint32_t from;
    int fd;
    uint32_t tag;
    uint64_t sent_ns;
    void* data;
};
using cross_ring = base::spsc_ring<cross_record, cross_ring_records>;

// What all shards share, read-only after start-up (counters are atomic).
struct server_context {
    server_config config;
    std::string resume_key;
    uint32_t max_connections = 0;
    std::vector<shard*> shards;
    std::vector<std::unique_ptr<cross_ring>> rings;  // rings[from * n + to]
    std::atomic<uint32_t> connections{0};
    static constexpr uint32_t ip_slots = 65536;
    std::unique_ptr<std::atomic<uint32_t>[]> ip_connections;  // hashed by peer address
    std::atomic<bool> draining{false};
    ledger_factory* ledgers = nullptr;
    cluster_engine* cluster = nullptr;  // null: a single node
    cluster_hub* hub = nullptr;
    cross_ring& ring(uint32_t from, uint32_t to) { return *rings[from * shards.size() + to]; }
};

class shard final : public net::loop_handler {
  public:
    shard(uint32_t id, server_context& context);
    ~shard() override;
    // Builds the loop and the session table. The shard does not listen yet: see give_listener.
    bool init(std::string* error);
    // The shard's thread: runs the loop until it stops.
    void run();
    net::event_loop& loop() { return *_loop; }
    const shard_metrics& metrics() const { return _metrics; }
    uint32_t id() const { return _id; }
    // Any thread: start draining (close listeners, close sessions with 1001, then stop).
    void request_drain();
    // Start-up, from the main thread while the loop runs, in this order, once each; each asks
    // the loop thread and returns at once, and wait_started() waits until it is done (0, or a
    // negative errno; -ETIMEDOUT after start_step_ms_max). give_listener: the shard takes `fd`
    // (from net::bind_listener) and applies every cluster event sent so far (the link states).
    // start_listening: it listens and accepts. In a cluster every shard takes its listener before
    // any listens, so a connection one shard accepts and hands to another finds both current.
    void give_listener(int fd);
    void start_listening();
    int wait_started();

    void on_accept(net::conn_handle conn, int listener_id) override;
    void on_data(net::conn_handle conn, std::span<uint8_t> data) override;
    void on_sent(net::conn_handle conn, int64_t result) override;
    void on_hangup(net::conn_handle conn, int error) override;
    void on_closed(net::conn_handle conn) override;
    void on_detached(net::conn_handle conn, int fd) override;
    void on_wake() override;
    void on_tick() override;
    void before_sleep() override;
    void after_wake() override;
    void after_submit() override;

    // Test hook: heap allocations made by the frame pool (the audio path must not add any).
    uint64_t frame_heap_allocations() const { return _pool.heap_allocations(); }

  private:
    // shard.cc: sessions, sending, timers, cross-core records
    session* find(net::conn_handle conn);
    session& open_session(net::conn_handle conn);
    void queue(session& s, shared_frame* frame);
    void queue_bytes(session& s, std::string_view bytes);
    bool queue_control(session& s, shared_frame* frame);
    uint64_t backlog(const session& s) const;
    void mark_dirty(session& s);
    void flush(session& s);
    void close_with(session& s, uint16_t code, std::string_view reason);
    void finish_http(session& s);
    void drop_connection(session& s, net::close_mode mode);
    void release_session(session& s);
    void sweep(uint32_t now_ms);
    bool drained() const;
    void drop_unanswered_requests();
    void sweep_one(session& s, uint32_t now);
    void post(uint32_t to, const cross_record& record);
    void release_counts(uint32_t ip_slot);
    void drain_rings();
    void handle_record(const cross_record& record);
    void ask_start_step(int step);
    void run_start_step(int step);
    uint32_t now_ms() const;

    // shard_http.cc: the request head, routing, refusals, plain HTTP endpoints
    void on_http_data(session& s, std::span<const uint8_t> data);
    void handle_request(session& s, const ws::http_request& request);
    void refuse(session& s, int status, std::string_view code, std::string_view message);
    void respond(session& s, int status, std::string_view type, std::string_view body,
                 std::string_view extra_headers = {});
    void serve_static(session& s, const ws::http_request& request);
    void serve_rooms_listing(session& s, const ws::http_request& request);
    void answer_rooms_query(const cross_record& record);
    void collect_rooms_reply(const cross_record& record);
    void upgrade(session& s, const ws::http_request& request, bool chorus_v1);
    bool origin_allowed(const ws::http_request& request) const;
    bool upgrade_allowed(session& s, const ws::http_request& request, bool* chorus_v1);
    std::string rooms_json() const;

    // shard_room.cc: joining, leaving, resume, events
    void join_room(session& s, const ws::http_request& request, std::string_view room_id);
    void admit(session& s, room& r, member& m, bool resumed, bool gap, uint64_t last_seq,
               bool has_last_seq, std::string_view request_key, bool chorus_v1);
    room& open_room(std::string_view room_id);
    void maybe_end_room(room& r);
    void broadcast_event(room& r, std::string& json, member* except);
    void member_gone(member& m, std::string_view reason, bool end_room_if_empty = true);
    void member_away(member& m);
    void leave_away_list(member& m);
    void attach(member& m, session& s, bool present = true);
    void detach_member(member& m);
    void expire_away(uint64_t now_ms);
    std::string resume_token(const room& r, const member& m) const;

    // shard_cluster.cc: rooms shared with other nodes through the cluster engine (Redis)
    enum class op_kind : uint8_t { join, resume, leave, event, restore };
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
    };
    struct node_entry {
        std::string instance;
        uint64_t last_seen_ms = 0;
        bool dead = false;
    };
    bool clustered() const { return _context.cluster != nullptr; }
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
    void cluster_publish_audio(room& r, const shared_frame* frame);
    bool cluster_whisper(room& r, member& target, const shared_frame* frame, char type);
    void on_cluster_event(cluster_event& e);
    void on_join_reply(pending_op& op, room& r, cluster_event& e);
    void on_resume_reply(pending_op& op, room& r, cluster_event& e);
    void on_leave_reply(pending_op& op, room& r, cluster_event& e);
    void on_event_reply(pending_op& op, room& r, cluster_event& e);
    void on_restore_reply(room& r, cluster_event& e);
    void on_room_message(room& r, std::string& payload);
    void on_node_message(cluster_event& e);
    void on_link(const cluster_event& e);
    void on_nodes(const cluster_event& e);
    void apply_event(room& r, const envelope& env);
    void on_moved(room& r, const envelope& env);
    void relay_audio(room& r, std::string_view frame_bytes);
    void local_event(room& r, std::string_view before, std::string_view after);
    void load_members(room& r, const reply_value& pairs, uint32_t except);
    std::string members_json(const reply_value& pairs, uint32_t except) const;
    void deliver_welcomes(room& r);
    void send_welcome(room& r, member& m, welcome_wait& w);
    member& add_member(room& r, std::unique_ptr<member> m);
    void erase_member(room& r, member& m);
    void make_local(room& r, member& m);
    void make_remote(room& r, member& m, uint16_t node);
    uint16_t node_index(std::string_view instance);
    void node_dead(uint16_t node);
    void node_back(uint16_t node);
    void restore_rooms(uint32_t server);
    void restore_room(room& r);
    void apply_early(room& r);
    std::string record_of(const member& m) const;

    // shard_messages.cc: what a member sends after the upgrade
    void on_ws_data(session& s, std::span<uint8_t> data);
    void on_text(session& s, std::span<const uint8_t> payload);
    void on_binary(session& s, std::span<const uint8_t> payload);
    void on_peer_close(session& s, uint16_t code);
    void send_error(session& s, std::string_view code, std::string_view message);
    bool limited(session& s, limited_error which);
    void fan_out_audio(session& s, member& from, std::span<const uint8_t> payload);
    void deliver_audio(room& r, shared_frame* frame, const member* except);
    shared_frame* copy_frame(std::string_view bytes);
    void whisper_audio(session& s, member& from, std::span<const uint8_t> payload);
    void handle_control(session& s, member& m, std::string_view type);
    shared_frame* text_frame(std::string_view json);
    shared_frame* audio_frame(uint8_t op, uint32_t from, std::span<const uint8_t> audio);
    shared_frame* close_frame(uint16_t code, std::string_view reason);

    uint32_t _id;
    server_context& _context;
    const server_config& _config;
    std::unique_ptr<net::event_loop> _loop;
    std::unique_ptr<session[]> _sessions;  // indexed like the loop's connection slab
    uint32_t _session_count = 0;
    std::vector<uint32_t> _dirty;
    std::unique_ptr<iovec[]> _iov;  // scratch for one flush
    frame_pool _pool;
    std::unordered_map<std::string, std::unique_ptr<room>> _rooms;
    std::vector<member*> _away;  // members waiting out their resume grace
    shard_metrics _metrics;
    simdjson::ondemand::parser _json;
    simdjson::dom::parser _dom;
    std::string _scratch;
    std::string _json_input;                // padded copy of a text message
    std::vector<uint64_t> _fanout_started;  // receive times of audio fanned out this pass
    std::vector<bool> _wake_pending;
    uint64_t _epoch_ms;
    uint64_t _pass_started_ns = 0;
    uint32_t _sweep_cursor = 0;
    uint32_t _ticks = 0;
    uint32_t _pass_id = 1;
    std::atomic<bool> _drain_requested{false};
    // Start-up steps (give_listener = 1, start_listening = 2), asked by the main thread and
    // done on the loop thread; a loop that ends marks every step done, with -ECANCELED.
    static constexpr int start_step_take = 1, start_step_listen = 2, start_steps_ended = 3;
    std::atomic<int> _start_asked{0};
    int _start_handled = 0;  // loop thread
    std::mutex _start_mutex;
    std::condition_variable _start_changed;
    int _start_done = 0;   // guarded by _start_mutex
    int _start_error = 0;  // guarded by _start_mutex
    int _listen_fd = -1;   // from give_listener until start_listening
    bool _draining = false;
    uint64_t _drain_deadline_ms = 0;
    uint64_t _drain_listen_until_ms = 0;
    bool _listeners_closed = false;
    struct rooms_query {
        net::conn_handle conn;
        uint32_t replies_missing;
        std::string body;
    };
    std::unordered_map<uint32_t, rooms_query> _rooms_queries;
    uint32_t _next_query = 1;
    // Cluster mode.
    std::unordered_map<uint64_t, pending_op> _pending;
    uint64_t _next_tag = 1;
    std::deque<cluster_request*> _cluster_backlog;  // requests the full ring did not take
    bool _cluster_wake = false;
    std::vector<node_entry> _nodes;            // [0] is this process
    std::vector<bool> _link_up;                // per Redis server
    bool _all_links_up = false;                // counted in hub->shards_linked while true
    std::vector<uint64_t> _epochs;             // per Redis server: the member-id epoch
    std::unordered_set<std::string> _orphans;  // rooms whose join may have run unanswered
};

}  // namespace chorus::core
