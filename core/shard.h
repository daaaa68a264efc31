// One shard per core: the loop adapter. It owns an event loop and a session table, receives the
// loop's callbacks and hands the work to the pieces that own it: the session writer (queues,
// flush, closes), the HTTP router, member input (control messages, audio), the rooms and their
// room_sync. Nothing here is shared with other threads except through the SPSC ring grid
// (cross-core records) and the read-only server context. A WebSocket request for a room is
// handed to the room's home core right after its head is parsed, so a room's fan-out is local.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/spsc_ring.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/member_input.h"
#include "core/metrics.h"
#include "core/room_sync.h"
#include "core/room_table.h"
#include "core/session.h"
#include "core/session_writer.h"
#include "net/loop.h"
#include "net/tls/tls_loop.h"
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

// What a handoff record's `data` owns: the request head and, for a TLS connection, its session.
struct handoff_payload {
    std::unique_ptr<std::string> head;
    std::unique_ptr<net::transport_state> transport;
};

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
    room_sync_provider* syncs = nullptr;       // a single node or a cluster: the shards never ask
    net::tls::server_contexts* tls = nullptr;  // set when a TLS listener is configured
    cross_ring& ring(uint32_t from, uint32_t to) { return *rings[from * shards.size() + to]; }
};

class shard final : public net::loop_handler, private sync_host, private close_listener {
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
    // (from net::bind_listener) and applies everything its room_sync was sent so far (a
    // cluster's link states). start_listening: it listens and accepts. Every shard takes its
    // listener before any listens, so a connection one shard accepts and hands to another
    // finds both current.
    void give_listener(int fd, int tls_fd);
    void start_listening();
    int wait_started();

    void on_accept(net::conn_handle conn, int listener_id) override;
    void on_data(net::conn_handle conn, std::span<uint8_t> data) override;
    void on_sent(net::conn_handle conn, int64_t result) override;
    void on_hangup(net::conn_handle conn, int error) override;
    void on_closed(net::conn_handle conn) override;
    void on_detached(net::conn_handle conn, int fd,
                     std::unique_ptr<net::transport_state> transport) override;
    void on_wake() override;
    void on_tick() override;
    // Every speaking_poll_ms at most (from the end of a pass or a tick): the rooms' speaking sets.
    void poll_speaking();
    void before_sleep() override;
    void after_wake() override;
    void after_submit() override;
    uint64_t wake_by_ms() override { return _rooms.clock().next_due_ms(); }

    // Test hook: heap allocations made by the frame pool (the audio path must not add any).
    uint64_t frame_heap_allocations() const { return _pool.heap_allocations(); }

  private:
    // sync_host and close_listener
    session* find(net::conn_handle conn) override;
    void refuse(session& s, int status, std::string_view code, std::string_view message) override;
    void upgrade(session& s, bool chorus_v1) override;
    void on_member_closed(member& m, uint16_t code) override;

    // shard.cc: sessions, WebSocket frames, drain and timers
    session& open_session(net::conn_handle conn);
    void release_session(session& s);
    void drop_connection(session& s, net::close_mode mode);
    void on_ws_data(session& s, std::span<uint8_t> data);
    void start_drain();
    bool drained() const;
    void drop_unanswered_requests();
    void sweep(uint32_t now_ms);
    void sweep_one(session& s, uint32_t now);

    // shard_http.cc: the request head, acting on its route, the plain endpoints
    void on_http_data(session& s, std::span<const uint8_t> data);
    void handle_request(session& s, const ws::http_request& request);
    void respond(session& s, int status, std::string_view type, std::string_view body,
                 std::string_view extra_headers = {});
    void serve_rooms_listing(session& s, const ws::http_request& request);
    void answer_rooms_query(const cross_record& record);
    void collect_rooms_reply(const cross_record& record);

    // shard_rings.cc: cross-core records
    void post(uint32_t to, const cross_record& record);
    void release_counts(uint32_t ip_slot);
    void drain_rings();
    void handle_record(const cross_record& record);
    void ask_start_step(int step);
    void run_start_step(int step);

    uint32_t _id;
    server_context& _context;
    const server_config& _config;
    std::unique_ptr<net::event_loop> _loop;
    net::tls::tls_loop* _tls = nullptr;    // _loop itself when TLS is on: its TLS listener
    std::unique_ptr<session[]> _sessions;  // indexed like the loop's connection slab
    uint32_t _session_count = 0;
    frame_pool _pool;
    shard_metrics _metrics;
    session_writer _writer;
    room_table _rooms;
    std::unique_ptr<room_sync> _sync;
    std::unique_ptr<member_input> _input;
    std::string _scratch;
    std::vector<uint64_t> _fanout_started;  // receive times of audio fanned out this pass
    std::vector<bool> _wake_pending;
    uint64_t _pass_started_ns = 0;
    uint32_t _sweep_cursor = 0;
    uint32_t _ticks = 0;
    uint64_t _speaking_polled_ms = 0;
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
    int _listen_fd = -1;   // from give_listener until start_listening (-1: none)
    int _tls_listen_fd = -1;
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
};

}  // namespace chorus::core
