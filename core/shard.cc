// The shard's loop callbacks: session lifecycle, WebSocket frames handed to member input, the
// end of each pass (the writer's flush, the room_sync's, the cross-core wakes), drain, and
// timers (handshake, ping, idle, resume grace). Cross-core records are in shard_rings.cc.
#include "core/shard.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/base/clock.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace chorus::core {

shard::shard(uint32_t id, server_context& context)
    : _id(id),
      _context(context),
      _config(context.config),
      _writer(context.config, _pool, _metrics),
      _rooms(_writer, *context.ledgers) {}

shard::~shard() {
    for (uint32_t i = 0; i < _session_count; ++i)
        if (_sessions[i].phase != session_phase::free) _sessions[i].out.clear(_pool);
    if (_listen_fd >= 0) ::close(_listen_fd);  // taken, never listened on
    if (_tls_listen_fd >= 0) ::close(_tls_listen_fd);
}

bool shard::init(std::string* error) {
    net::loop_config loop_config;
    loop_config.connections_max = _context.max_connections + 64;  // room to refuse politely
    loop_config.tick_ms = 1000 / sweep_ticks_per_second;
    std::string overload;
    ws::append_error_response(overload, 503, "overloaded",
                              "the server is out of connections; try again later");
    loop_config.overload_response = overload;
    bool uring = _config.io == io_choice::uring;
    if (_config.io == io_choice::automatic) {
        std::string why;
        uring = net::uring_available(&why);
    }
    // With a TLS listener the backend runs under the TLS decorator, which passes plain
    // connections through: the shard sees plaintext from both listeners alike.
    std::unique_ptr<net::tls::tls_loop> tls;
    net::loop_handler* handler = this;
    if (_context.tls) {
        tls = std::make_unique<net::tls::tls_loop>(this, _context.tls, loop_config.connections_max);
        handler = tls->backend_handler();
    }
    std::unique_ptr<net::event_loop> backend =
        uring ? net::make_uring_loop(loop_config, handler, error)
              : net::make_epoll_loop(loop_config, handler, error);
    if (!backend) return false;
    if (tls) {
        tls->set_backend(std::move(backend));
        _tls = tls.get();
        _loop = std::move(tls);
    } else {
        _loop = std::move(backend);
    }
    _writer.bind(_loop.get(), this);
    _session_count = loop_config.connections_max;
    _sessions.reset(new session[_session_count]);
    _wake_pending.assign(_context.shards.size(), false);
    _sync = _context.syncs->open({_id, _config, _context.resume_key, _writer, _rooms, *this});
    _input = std::make_unique<member_input>(_writer, *_sync);
    _fanout_started.reserve(fanout_timestamps_max);
    return true;
}

session* shard::find(net::conn_handle conn) {
    if (conn.index >= _session_count) return nullptr;
    session& s = _sessions[conn.index];
    if (s.phase == session_phase::free || !(s.conn == conn)) return nullptr;
    return &s;
}

session& shard::open_session(net::conn_handle conn) {
    session& s = _sessions[conn.index];
    CHORUS_ASSERT(s.phase == session_phase::free);
    s.conn = conn;
    s.phase = session_phase::http;
    s.kind = session_kind::http;
    s.sending = false;
    s.dirty = false;
    s.close_queued = false;
    s.ping_outstanding = false;
    s.counted = false;
    s.parked = false;
    s.close_code = 0;
    s.opened_ms = s.last_activity_ms = s.last_ping_ms = _writer.now_ms();
    s.ip_slot = UINT32_MAX;
    s.in_flight_bytes = s.pass_bytes = s.pass_id = s.held_bytes = 0;
    s.closing_since_ms = 0;
    for (uint32_t& second : s.error_second) second = 0;
    s.self = nullptr;
    _metrics.connections.add();
    return s;
}

void shard::on_accept(net::conn_handle conn, int) {
    session& s = open_session(conn);
    _metrics.connections_accepted.add();
    uint32_t total = _context.connections.fetch_add(1, std::memory_order_relaxed) + 1;
    s.counted = true;
    if (total > _context.max_connections) {
        refuse(s, 503, "overloaded", "connection limit reached; try again later");
        return;
    }
    if (_config.max_connections_per_ip == 0) return;
    sockaddr_storage peer{};
    if (!_loop->peer_address(conn, &peer)) return;
    // Counted per address in a fixed table of slots (hash collisions only make it stricter).
    uint64_t hash = 0;
    if (peer.ss_family == AF_INET) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&peer);
        hash = XXH3_64bits(&v4->sin_addr, sizeof(v4->sin_addr));
    } else if (peer.ss_family == AF_INET6) {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&peer);
        hash = XXH3_64bits(&v6->sin6_addr, sizeof(v6->sin6_addr));
    }
    s.ip_slot = static_cast<uint32_t>(hash % server_context::ip_slots);
    uint32_t from_ip = _context.ip_connections[s.ip_slot].fetch_add(1) + 1;
    if (from_ip > _config.max_connections_per_ip)
        refuse(s, 503, "overloaded", "too many connections from your address");
}

void shard::on_data(net::conn_handle conn, std::span<uint8_t> data) {
    session* s = find(conn);
    if (!s) return;
    _metrics.bytes_in.add(data.size());
    s->last_activity_ms = _writer.now_ms();
    if (s->parked) return;  // waiting for its room_sync; a client sends nothing before the 101
    if (s->phase == session_phase::http) {
        on_http_data(*s, data);
    } else if (s->phase == session_phase::websocket) {
        on_ws_data(*s, data);
    }
    // closing: what arrives after our close frame is discarded
}

void shard::on_ws_data(session& s, std::span<uint8_t> data) {
    uint64_t received_ns = 0;
    while (s.phase == session_phase::websocket) {
        ws::read_result r = s.reader.next(data);
        data = data.subspan(r.consumed);
        switch (r.event) {
            case ws::read_event::need_more:
                if (data.empty() || r.consumed == 0) {
                    if (s.reader.buffered_bytes() == 0) s.reader.release_buffer();
                    return;
                }
                break;
            case ws::read_event::text:
            case ws::read_event::binary: {
                _metrics.frames_in.add();
                bool text = r.event == ws::read_event::text;
                if (s.kind == session_kind::echo) {
                    shared_frame* frame = _pool.allocate(r.payload.size() + 10);
                    size_t header = ws::encode_frame_header(
                        frame->data(), text ? ws::opcode::text : ws::opcode::binary,
                        r.payload.size());
                    ws::copy_payload(frame->data() + header, r.payload.data(), r.payload.size());
                    frame->size = static_cast<uint32_t>(header + r.payload.size());
                    _writer.queue_control(s, frame);  // a peer that does not read is closed
                    _pool.release(frame);
                } else if (text) {
                    _input->on_text(s, r.payload);
                } else {
                    if (received_ns == 0) received_ns = base::monotonic_ns();
                    if (_fanout_started.size() < fanout_timestamps_max)
                        _fanout_started.push_back(received_ns);
                    _input->on_binary(s, r.payload);
                }
                break;
            }
            case ws::read_event::ping: {
                std::string pong;
                ws::append_frame(
                    pong, ws::opcode::pong,
                    {reinterpret_cast<const char*>(r.payload.data()), r.payload.size()});
                shared_frame* frame = _writer.copy_frame(pong);
                _writer.queue_control(s, frame);
                _pool.release(frame);
                break;
            }
            case ws::read_event::pong:
                s.ping_outstanding = false;
                break;
            case ws::read_event::close:
                // The peer started the closing handshake: it leaves (reason "closed").
                if (s.self) _sync->leave(*s.self, "closed");
                _writer.answer_close(s, r.close_code);
                return;
            case ws::read_event::fail:
                _writer.close(s, r.close_code, r.close_reason);
                return;
        }
    }
}

void shard::on_member_closed(member& m, uint16_t code) {
    member_closed(*_sync, m, code);
}

void shard::on_sent(net::conn_handle conn, int64_t result) {
    session* s = find(conn);
    if (!s) return;
    if (!_writer.sent(*s, result)) on_hangup(conn, static_cast<int>(result));
}

void shard::drop_connection(session& s, net::close_mode mode) {
    if (s.self) s.self->home->go_away(*s.self);
    s.phase = session_phase::closing;
    _loop->close(s.conn, mode);
}

void shard::on_hangup(net::conn_handle conn, int) {
    session* s = find(conn);
    if (!s) return;
    // No close frame arrived: a network drop. The member stays, away, for the resume grace.
    drop_connection(*s, net::close_mode::abort);
}

void shard::on_closed(net::conn_handle conn) {
    session* s = find(conn);
    if (!s) return;
    if (s->self) s->self->home->go_away(*s->self);
    release_session(*s);
}

void shard::release_session(session& s) {
    s.out.clear(_pool);
    s.http_in.reset();
    s.reader.release_buffer();
    if (s.counted) _context.connections.fetch_sub(1, std::memory_order_relaxed);
    if (s.ip_slot != UINT32_MAX)
        _context.ip_connections[s.ip_slot].fetch_sub(1, std::memory_order_relaxed);
    if (s.kind != session_kind::http) {
        uint64_t open = _metrics.websocket_sessions.get();
        _metrics.websocket_sessions.set(open ? open - 1 : 0);
    }
    uint64_t open = _metrics.connections.get();
    _metrics.connections.set(open ? open - 1 : 0);
    s.phase = session_phase::free;
    s.self = nullptr;
}

void shard::after_wake() {
    _pass_started_ns = base::monotonic_ns();
    _writer.begin_pass();
}

// The pass's sends are in the kernel now: that ends the fan-out of every audio frame received
// in this pass, and the pass itself.
void shard::after_submit() {
    uint64_t now_ns = base::monotonic_ns();
    for (uint64_t started : _fanout_started) _metrics.fanout.record_ns(now_ns - started);
    _fanout_started.clear();
    if (_pass_started_ns) {
        _metrics.loop_pass.record_ns(now_ns - _pass_started_ns);
        _pass_started_ns = 0;
    }
}

void shard::before_sleep() {
    if (_drain_requested.load(std::memory_order_relaxed) && !_draining) start_drain();
    poll_speaking();
    if (_rooms.clock().on()) _rooms.release_audio(base::monotonic_ms());
    _writer.flush_pass();
    _metrics.frame_heap_allocations.set(_pool.heap_allocations());
    if (_tls) {
        const net::tls::tls_loop::tls_counts& tls = _tls->counts();
        _metrics.tls_handshakes.set(tls.handshakes);
        _metrics.tls_own_records.set(tls.own_records);
        _metrics.tls_failures.set(tls.failures);
        _metrics.tls_plain_http.set(tls.plain_http);
    }
    _sync->end_pass();
    for (uint32_t to = 0; to < _wake_pending.size(); ++to) {
        if (!_wake_pending[to]) continue;
        _wake_pending[to] = false;
        _context.shards[to]->loop().wake();
    }
    if (_draining) {
        uint64_t now = base::monotonic_ms();
        if (!_listeners_closed &&
            (now >= _drain_listen_until_ms || _metrics.websocket_sessions.get() == 0)) {
            _listeners_closed = true;
            _loop->close_listeners();
            drop_unanswered_requests();
        }
        if (_listeners_closed && (_loop->connection_count() == 0 || now >= _drain_deadline_ms))
            _loop->stop();
    }
}

void shard::poll_speaking() {
    uint64_t now = base::monotonic_ms();
    if (now < _speaking_polled_ms + speaking_poll_ms) return;
    _speaking_polled_ms = now;
    _rooms.poll_speaking(now);
}

void shard::start_drain() {
    _draining = true;
    _drain_deadline_ms = base::monotonic_ms() + _config.drain_timeout_ms;
    // The listener stays open while clients go, so that /healthz can say "draining" and a
    // balancer moves on; room requests are refused (503) meanwhile.
    _drain_listen_until_ms =
        base::monotonic_ms() + std::min<uint64_t>(_config.drain_timeout_ms, drain_listen_ms_max);
    for (uint32_t i = 0; i < _session_count; ++i) {
        session& s = _sessions[i];
        if (s.phase == session_phase::websocket) {
            _writer.close(s, 1001, "server shutting down");
        } else if (s.phase == session_phase::http && s.parked) {
            drop_connection(s, net::close_mode::abort);  // a join in flight: retry elsewhere
        }
        // Other requests are answered in the listening window (joins get 503, /healthz says
        // draining): a connection accepted just before the signal is served, not reset.
    }
}

void shard::on_tick() {
    drain_rings();
    _sync->poll();
    uint32_t now = _writer.now_ms();
    sweep(now);
    _rooms.away().expire(base::monotonic_ms(), [&](member& m) { _sync->leave(m, "timeout"); });
    poll_speaking();
    if (++_ticks % sweep_ticks_per_second == 0) _pool.trim();
    if (_draining && _listeners_closed && drained()) _loop->stop();
}

// Draining, once the listeners are closed: a connection accepted in the listening window that
// has not sent a whole request (or sent none) would otherwise hold the exit until its handshake
// timeout. Answered requests (close_queued) keep their response; the rest are reset.
void shard::drop_unanswered_requests() {
    for (uint32_t i = 0; i < _session_count; ++i) {
        session& s = _sessions[i];
        if (s.phase == session_phase::http && !s.close_queued)
            drop_connection(s, net::close_mode::abort);
    }
}

// Draining: every client has its close frame (or final response) in the kernel. Waiting longer
// for peers that never answer the closing handshake would only delay the exit.
bool shard::drained() const {
    for (uint32_t i = 0; i < _session_count; ++i) {
        const session& s = _sessions[i];
        if (s.phase == session_phase::free) continue;
        if (s.phase != session_phase::closing || s.sending || !s.out.empty()) return false;
    }
    return true;
}

// Visits a slice of the session table each tick, so that every slot is seen at least once per
// sweep period (a quarter of the shortest timer, 100 ms to 1 s): handshake deadline,
// keep-alive ping, idle timeout.
void shard::sweep(uint32_t now) {
    uint32_t total = _session_count;
    uint64_t shortest =
        std::min({_config.handshake_timeout_ms, _config.ping_interval_ms, _config.idle_timeout_ms});
    uint64_t period_ms = std::clamp<uint64_t>(shortest / 4, 100, 1000);
    uint64_t ticks = std::max<uint64_t>(1, period_ms / (1000 / sweep_ticks_per_second));
    uint32_t slice = static_cast<uint32_t>(total / ticks + 1);
    for (uint32_t i = 0; i < slice; ++i) {
        session& s = _sessions[_sweep_cursor];
        _sweep_cursor = (_sweep_cursor + 1) % total;
        sweep_one(s, now);
    }
}

// The sweep's clock differences go through base::elapsed_ms: closing_since_ms is odd (0 means
// unset), so a close queued in the tick's own millisecond can be stamped after `now`. A plain
// unsigned difference took that for 49 days and reset the connection before its close frame.
void shard::sweep_one(session& s, uint32_t now) {
    if (s.phase == session_phase::http) {
        if (base::elapsed_ms(now, s.opened_ms) >= _config.handshake_timeout_ms)
            drop_connection(s, net::close_mode::abort);
    } else if (s.phase == session_phase::closing) {
        // A close frame stuck behind data the peer never reads: give up after the linger time.
        // Once it is written the loop's graceful close owns the connection (and bounds it).
        bool stuck = s.sending || !s.out.empty();
        if (s.close_queued && stuck && s.closing_since_ms != 0 &&
            base::elapsed_ms(now, s.closing_since_ms) >= closing_ms_max)
            _loop->close(s.conn, net::close_mode::abort);
    } else if (s.phase == session_phase::websocket) {
        if (!s.sending && s.out.empty()) s.out.shrink();  // idle: no queue memory
        uint32_t silent = base::elapsed_ms(now, s.last_activity_ms);
        if (silent >= _config.idle_timeout_ms) {
            _writer.close(s, 1001, "idle timeout");
        } else if (base::elapsed_ms(now, s.last_ping_ms) >= _config.ping_interval_ms) {
            // Every ping interval, busy or not: a client that only sends (a lone speaker) still
            // hears from us, so proxies with a read timeout (nginx: 30 s) keep its socket.
            s.last_ping_ms = now;
            shared_frame* ping = _pool.allocate(2);
            ping->size =
                static_cast<uint32_t>(ws::encode_frame_header(ping->data(), ws::opcode::ping, 0));
            _writer.queue_control(s, ping);
            _pool.release(ping);
        }
    }
}

}  // namespace chorus::core
