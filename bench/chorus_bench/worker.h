// One bench thread: its own event loop (net/, created on this thread), the client connections of
// the rooms it owns (a room never spans threads, so readiness, pacing and the flood window are
// thread-local), client-side WebSocket framing, and its counters. main() steers every worker
// through the phases in run_control and merges their stats at the end.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/chorus_bench/options.h"
#include "bench/chorus_bench/pacer.h"
#include "bench/chorus_bench/payload.h"
#include "bench/chorus_bench/timeline.h"
#include "core/base/histogram.h"
#include "net/loop.h"
#include "net/tls/tls_loop.h"
#include "ws/message_reader.h"

namespace chorus::bench {

enum class run_phase : int { connecting, running, draining, closing };

// Written by main, read by workers.
struct run_control {
    std::atomic<int> phase{static_cast<int>(run_phase::connecting)};
    std::atomic<uint64_t> send_start_ns{0};
    std::atomic<uint64_t> send_stop_ns{UINT64_MAX};
    uint64_t ramp_start_ns = 0;  // set before the workers start
};

// Counters a worker publishes while it runs (relaxed atomics, read by main for progress), then
// the details main reads after joining the thread.
struct worker_stats {
    std::atomic<uint64_t> opened{0}, joined{0}, failed{0}, closed_early{0};
    std::atomic<uint64_t> sent{0}, expected{0}, received{0}, reorders{0}, gaps{0};
    std::atomic<uint64_t> control_expected{0}, control_received{0}, errors{0};
    std::atomic<uint64_t> joins{0}, resumes{0}, resume_failures{0}, seq_gaps{0};
    std::atomic<uint64_t> echo_in_flight{0}, skipped_sends{0};
    std::atomic<uint64_t> p50_ns{0}, p99_ns{0};
    std::atomic<uint64_t> connect_done_ns{0};  // all local connections joined or failed
    std::atomic<uint64_t> last_receive_ns{0};
    std::atomic<bool> finished{false};
    // The worker has seen the drain: it sends nothing more, and the sent/expected counts it
    // published with this flag are final. Until every worker says so, the published counts may
    // lag behind frames still on the wire, and ending the drain on them would cut those off.
    std::atomic<bool> sending_done{false};

    base::histogram latency;    // end-to-end ns (audio, echo)
    base::histogram handshake;  // connect() to 101 (idle, rooms) or to welcome (churn), ns
    timeline series;            // sized by main before the thread starts
    std::string first_error;
    std::string setup_error;  // the loop could not be created
    std::string backend;
};

class worker final : public net::loop_handler {
  public:
    // Owns the rooms with index % thread_count == thread_index (echo/idle: connections).
    worker(const options& o, uint32_t thread_index, run_control* control, worker_stats* stats);
    ~worker() override;

    // Creates the loop on the calling thread and runs it until the run ends.
    void run();

    // loop_handler
    void on_accept(net::conn_handle, int) override {}
    void on_data(net::conn_handle conn, std::span<uint8_t> data) override;
    void on_sent(net::conn_handle conn, int64_t result) override;
    void on_hangup(net::conn_handle conn, int error) override;
    void on_closed(net::conn_handle conn) override;
    void on_detached(net::conn_handle conn, int fd,
                     std::unique_ptr<net::transport_state> transport) override;
    void on_wake() override {}
    void on_tick() override;
    void before_sleep() override;

  private:
    enum class conn_phase : uint8_t { idle, handshaking, open, closing };

    struct client_conn {
        net::conn_handle handle;
        uint32_t room = 0;    // local room index
        uint32_t member = 0;  // index in its room: speakers first, churners last
        conn_phase phase = conn_phase::idle;
        bool joined = false;  // 101 (raw, echo) or welcome (chorus rooms)
        bool dirty = false;
        bool sending = false;
        bool churner = false;
        bool expect_resume = false;
        bool seated = false;      // --seats: a seats event lists it; it may talk
        bool seat_asked = false;  // --seats: its take_seat is on its way
        uint32_t member_id = 0;
        uint32_t cycles = 0;  // churn: joins done
        uint64_t connect_ns = 0;
        uint64_t event_seq = 0;  // last room seq seen
        uint64_t rng = 0;
        std::string key;
        std::string http_in;
        std::string out, in_flight;
        size_t in_flight_done = 0;
        std::string resume;
        ws::message_reader reader{ws::role::client, 16u << 20};
        // speaker / echo sender
        uint64_t next_seq = 0;
        uint64_t probe_seen = 0;  // flood: frames of this speaker the room's probe received
        pacer pace;
    };

    struct room_state {
        uint32_t global = 0;  // room index across all threads
        std::string name;
        uint32_t first_conn = 0;
        uint32_t members = 0;  // connections that stay (speakers and listeners)
        uint32_t joined = 0;
        pacer chat, whisper;
        uint32_t chat_turn = 0;
    };

    // worker.cc: connections and I/O
    void build_layout();
    void open_due_connections(uint64_t now);
    bool open_connection(uint32_t index);
    std::string path_for(const client_conn& c) const;
    void flush(uint32_t index);
    void mark_dirty(uint32_t index);
    client_conn* find(net::conn_handle handle, uint32_t* index);
    void handle_handshake(uint32_t index, std::span<uint8_t>& data, uint64_t now);
    void handle_frames(uint32_t index, std::span<uint8_t> data, uint64_t now);
    void fail_connection(uint32_t index, const std::string& why);
    void lost_connection(uint32_t index);
    void close_all();
    void note_error(const std::string& what);
    void publish_progress();
    void record_latency(uint64_t now, uint64_t send_ns);
    void record_series(uint64_t now);
    void check_connect_done(uint64_t now);

    // worker_traffic.cc: what flows once connections are open
    void send_due_traffic(uint64_t now);
    void append_frame(uint32_t index, uint8_t op_code, const uint8_t* body, size_t size);
    void append_audio(uint32_t index, uint64_t now);
    void send_text(uint32_t index, const std::string& json);
    void take_seat_when_open(uint32_t index, std::string_view text);
    void on_binary(uint32_t index, std::span<const uint8_t> payload, uint64_t now);
    void on_text(uint32_t index, std::string_view text, uint64_t now);
    void on_joined(uint32_t index, uint64_t now);
    void send_echoes(uint32_t index, uint64_t now, uint32_t count);
    void churn_step(uint64_t now);
    void send_control_traffic(room_state& room, uint64_t now);
    void start_senders(uint64_t start_ns);

    const options& _options;
    uint32_t _thread_index;
    uint32_t _thread_count;
    run_control* _control;
    worker_stats* _stats;
    std::unique_ptr<net::event_loop> _loop;
    net::tls::tls_loop* _tls = nullptr;  // _loop itself when a target is wss://
    net::tls::context_ptr _tls_context;
    std::vector<uint32_t> _server_addresses_be;  // --url, then each --also-url

    std::vector<room_state> _rooms;
    std::vector<client_conn> _conns;
    std::vector<uint32_t> _speakers;      // conn indexes
    std::vector<uint32_t> _churners;      // conn indexes
    std::vector<sequence_check> _checks;  // [conn * speakers + speaker]
    std::vector<uint32_t> _slot_to_conn;  // loop slot index -> conn index
    std::vector<uint32_t> _dirty;
    std::vector<uint8_t> _scratch;

    // Hot counters, plain on this thread; publish_progress() copies them into *_stats.
    struct hot_counters {
        uint64_t sent = 0, expected = 0, received = 0, reorders = 0, gaps = 0;
        uint64_t control_expected = 0, control_received = 0, echo_in_flight = 0;
    } _hot;

    uint32_t _next_to_open = 0;
    uint32_t _handshaking = 0;
    uint32_t _settled = 0;  // joined or failed, among the first-time connections
    bool _senders_started = false;
    bool _echo_started = false;
    bool _closing = false;
    bool _sending_done = false;  // published with _stats->sending_done
    uint64_t _closing_since_ns = 0;
    uint64_t _last_publish_ns = 0;
    uint64_t _last_series_ns = 0;
    pacer _churn_pace;
    uint32_t _churn_turn = 0;
};

}  // namespace chorus::bench
