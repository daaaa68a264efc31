// Bench worker, connection side: the layout of rooms and connections this thread owns, opening
// sockets (paced by --ramp, sources optionally spread over 127.0.0.0/8), the client handshake,
// frame reading, per-pass send coalescing (everything queued for a connection in one loop pass
// goes out in one send), and the orderly close at the end.
#include "bench/chorus_bench/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/chorus_bench/http_client.h"
#include "core/base/clock.h"
#include "ws/frame.h"

namespace chorus::bench {
namespace {

constexpr uint32_t handshakes_in_flight_max = 1000;  // per thread: stays under listen backlogs
constexpr uint64_t close_wait_ns = 2'000'000'000;
constexpr uint64_t publish_interval_ns = 100'000'000;
constexpr uint64_t series_interval_ns = 20'000'000;  // a 2% blur on per-second counts

}  // namespace

worker::worker(const options& o, uint32_t thread_index, run_control* control, worker_stats* stats)
    : _options(o),
      _thread_index(thread_index),
      _thread_count(o.threads),
      _control(control),
      _stats(stats) {
    build_layout();
}

worker::~worker() = default;

void worker::build_layout() {
    const options& o = _options;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (_thread_index + 1) ^ base::monotonic_ns();
    auto add_conn = [&](uint32_t room, uint32_t member) {
        _conns.emplace_back();
        client_conn& c = _conns.back();
        c.room = room;
        c.member = member;
        c.rng = (seed += 0x9e3779b97f4a7c15ull) | 1;
    };
    if (o.scenario == scenario_kind::echo) {
        for (uint32_t i = _thread_index; i < o.connections; i += _thread_count) add_conn(0, i);
        _checks.resize(_conns.size());
        return;
    }
    uint32_t members = o.members;
    uint32_t room_count = o.scenario == scenario_kind::idle
                              ? static_cast<uint32_t>((o.connections + members - 1) / members)
                              : o.rooms;
    for (uint32_t r = _thread_index; r < room_count; r += _thread_count) {
        room_state room;
        room.global = r;
        room.name = o.run_id + "-r" + std::to_string(r);
        room.first_conn = static_cast<uint32_t>(_conns.size());
        room.members = o.scenario == scenario_kind::idle
                           ? std::min(members, o.connections - r * members)
                           : members;
        uint32_t local = static_cast<uint32_t>(_rooms.size());
        _rooms.push_back(std::move(room));
        for (uint32_t m = 0; m < _rooms.back().members; ++m) {
            if (m < o.speakers && o.scenario != scenario_kind::idle &&
                o.scenario != scenario_kind::churn)
                _speakers.push_back(static_cast<uint32_t>(_conns.size()));
            add_conn(local, m);
        }
    }
    if (o.scenario == scenario_kind::churn) {
        for (uint32_t k = 0; k < o.churners; ++k) {
            uint32_t r = k % o.rooms;
            if (r % _thread_count != _thread_index) continue;
            _churners.push_back(static_cast<uint32_t>(_conns.size()));
            add_conn(r / _thread_count, members + k);
            _conns.back().churner = true;
        }
    }
    _checks.resize(_conns.size() * std::max<uint32_t>(o.speakers, 1));
}

void worker::run() {
    net::loop_config config;
    config.connections_max = static_cast<uint32_t>(_conns.size() + _churners.size() + 64);
    config.tick_ms = 1;
    config.linger_ms = 1000;
    std::string error;
    std::string why;
    bool uring = _options.io == "uring" || (_options.io == "auto" && net::uring_available(&why));
    // wss://: the backend runs under the TLS decorator, as in chorusd (net/tls/tls_loop.h).
    bool tls = _options.server.tls;
    for (const target& more : _options.more_servers) tls = tls || more.tls;
    std::unique_ptr<net::tls::tls_loop> decorator;
    net::loop_handler* handler = this;
    if (tls) {
        _tls_context = net::tls::make_client_context(!_options.insecure, &error);
        if (_tls_context) {
            decorator = std::make_unique<net::tls::tls_loop>(this, nullptr, config.connections_max);
            handler = decorator->backend_handler();
        }
    }
    if (!tls || _tls_context) {
        _loop = uring ? net::make_uring_loop(config, handler, &error)
                      : net::make_epoll_loop(config, handler, &error);
        if (!_loop && _options.io == "auto" && uring) {
            _loop = net::make_epoll_loop(config, handler, &error);
            uring = false;
        }
    }
    if (_loop && decorator) {
        decorator->set_backend(std::move(_loop));
        _tls = decorator.get();
        _loop = std::move(decorator);
    }
    std::vector<const target*> servers = {&_options.server};
    for (const target& more : _options.more_servers) servers.push_back(&more);
    std::string unresolved;
    for (const target* server : servers) {
        uint32_t address = 0;
        if (!resolve_ipv4(server->host, &address)) unresolved = server->host;
        _server_addresses_be.push_back(address);
    }
    if (!_loop || !unresolved.empty()) {
        _stats->setup_error =
            _loop ? "cannot resolve " + unresolved : "cannot create the event loop: " + error;
        _stats->connect_done_ns.store(base::monotonic_ns());
        _stats->finished.store(true);
        return;
    }
    _stats->backend = uring ? "uring" : "epoll";
    _slot_to_conn.assign(config.connections_max, UINT32_MAX);
    if (_conns.empty()) _stats->connect_done_ns.store(base::monotonic_ns());
    _loop->run();
    publish_progress();
    _loop.reset();
    _stats->finished.store(true);
}

std::string worker::path_for(const client_conn& c) const {
    if (_options.scenario == scenario_kind::echo) return "/v1/echo";
    const room_state& room = _rooms[c.room];
    if (_options.protocol == protocol_kind::raw) {
        std::string path = _options.server.path_template;
        path.replace(path.find("{room}"), 6, room.name);
        return path;
    }
    std::string path = "/v1/rooms/" + room.name + "?user=";
    path += c.churner ? "c" : "u";
    path += std::to_string(c.member);
    if (_options.seats > 0 && c.member == 0 && !c.churner) path += "&admin=1";  // opens seats
    if (c.expect_resume && !c.resume.empty()) {
        path += "&resume=" + c.resume + "&last_seq=" + std::to_string(c.event_seq);
    }
    return path;
}

void worker::open_due_connections(uint64_t now) {
    uint64_t total = _conns.size();
    uint64_t elapsed = now > _control->ramp_start_ns ? now - _control->ramp_start_ns : 0;
    uint64_t ramp_ns = _options.ramp_ms * 1'000'000;
    uint64_t target =
        ramp_ns == 0 || elapsed >= ramp_ns
            ? total
            : static_cast<uint64_t>(static_cast<double>(total) * static_cast<double>(elapsed) /
                                    static_cast<double>(ramp_ns));
    while (_next_to_open < target && _handshaking < handshakes_in_flight_max) {
        uint32_t index = _next_to_open++;
        if (!open_connection(index)) ++_settled;
    }
}

bool worker::open_connection(uint32_t index) {
    client_conn& c = _conns[index];
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error(std::string("socket: ") + std::strerror(errno));
        ++_stats->failed;
        return false;
    }
    if (_options.spread_sources) {
        // A different loopback source per connection lifts the ephemeral-port limit.
        uint64_t global = uint64_t{index} * _thread_count + _thread_index;
        sockaddr_in from{};
        from.sin_family = AF_INET;
        from.sin_addr.s_addr = htonl((127u << 24) | static_cast<uint32_t>(2 + global % 0xfffff0));
        int one = 1;
        ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from));
    }
    // In a cluster run, a room's members alternate over the servers.
    uint32_t which = c.member % static_cast<uint32_t>(_server_addresses_be.size());
    const target& server = which == 0 ? _options.server : _options.more_servers[which - 1];
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server.port);
    to.sin_addr.s_addr = _server_addresses_be[which];
    c.connect_ns = base::monotonic_ns();
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 && errno != EINPROGRESS) {
        note_error(std::string("connect: ") + std::strerror(errno));
        ::close(fd);
        ++_stats->failed;
        return false;
    }
    c.handle =
        server.tls ? _tls->adopt_client(fd, _tls_context.get(), server.host) : _loop->adopt(fd);
    if (!c.handle.valid()) {
        note_error("the bench's connection slab is full");
        ++_stats->failed;
        return false;
    }
    _slot_to_conn[c.handle.index] = index;
    c.phase = conn_phase::handshaking;
    c.joined = false;
    c.sending = false;
    c.http_in.clear();
    c.out.clear();
    c.in_flight.clear();
    c.in_flight_done = 0;
    c.reader = ws::message_reader(ws::role::client, 16u << 20);
    c.key = make_websocket_key(&c.rng);
    append_upgrade_request(c.out, server.host, server.port, path_for(c), c.key);
    mark_dirty(index);
    ++_handshaking;
    ++_stats->opened;
    return true;
}

worker::client_conn* worker::find(net::conn_handle handle, uint32_t* index) {
    if (handle.index >= _slot_to_conn.size()) return nullptr;
    uint32_t i = _slot_to_conn[handle.index];
    if (i == UINT32_MAX || !(_conns[i].handle == handle)) return nullptr;
    *index = i;
    return &_conns[i];
}

void worker::mark_dirty(uint32_t index) {
    client_conn& c = _conns[index];
    if (c.dirty) return;
    c.dirty = true;
    _dirty.push_back(index);
}

void worker::flush(uint32_t index) {
    client_conn& c = _conns[index];
    if (c.sending || c.out.empty() || !c.handle.valid()) return;
    c.in_flight.swap(c.out);
    c.out.clear();
    c.in_flight_done = 0;
    iovec iov{c.in_flight.data(), c.in_flight.size()};
    if (_loop->send(c.handle, &iov, 1)) {
        c.sending = true;
    } else {
        c.in_flight.clear();
    }
}

void worker::on_sent(net::conn_handle conn, int64_t result) {
    uint32_t index = 0;
    client_conn* c = find(conn, &index);
    if (!c) return;
    c->sending = false;
    if (result < 0) {
        if (c->phase != conn_phase::closing) lost_connection(index);
        return;
    }
    c->in_flight_done += static_cast<size_t>(result);
    if (c->in_flight_done < c->in_flight.size()) {
        iovec iov{c->in_flight.data() + c->in_flight_done, c->in_flight.size() - c->in_flight_done};
        c->sending = _loop->send(conn, &iov, 1);
        return;
    }
    c->in_flight.clear();
    c->in_flight_done = 0;
    if (!c->out.empty()) mark_dirty(index);
}

void worker::on_data(net::conn_handle conn, std::span<uint8_t> data) {
    uint32_t index = 0;
    client_conn* c = find(conn, &index);
    if (!c) return;
    uint64_t now = base::monotonic_ns();
    if (c->phase == conn_phase::handshaking) {
        handle_handshake(index, data, now);
        if (data.empty() || _conns[index].phase != conn_phase::open) return;
    }
    handle_frames(index, data, now);
}

// Accumulates the response head; on 101 hands what follows it back in `data` for the reader.
void worker::handle_handshake(uint32_t index, std::span<uint8_t>& data, uint64_t now) {
    client_conn& c = _conns[index];
    c.http_in.append(reinterpret_cast<const char*>(data.data()), data.size());
    data = {};
    upgrade_response response = check_upgrade_response(c.http_in, c.key);
    switch (response.status) {
        case upgrade_response::state::incomplete:
            return;
        case upgrade_response::state::refused:
            fail_connection(index, "upgrade refused: HTTP " + std::to_string(response.http_status) +
                                       " " + std::string(response.body.substr(0, 120)));
            return;
        case upgrade_response::state::malformed:
            fail_connection(index, "malformed upgrade response");
            return;
        case upgrade_response::state::accepted:
            break;
    }
    --_handshaking;
    c.phase = conn_phase::open;
    if (!c.churner) _stats->handshake.record(now - c.connect_ns);
    _scratch.assign(c.http_in.begin() + static_cast<long>(response.header_bytes), c.http_in.end());
    c.http_in.clear();
    c.http_in.shrink_to_fit();
    if (_options.protocol == protocol_kind::raw || _options.scenario == scenario_kind::echo)
        on_joined(index, now);
    if (!_scratch.empty()) handle_frames(index, {_scratch.data(), _scratch.size()}, now);
}

void worker::handle_frames(uint32_t index, std::span<uint8_t> data, uint64_t now) {
    bool received_audio = false;
    while (!data.empty()) {
        client_conn& c = _conns[index];
        if (c.phase != conn_phase::open && c.phase != conn_phase::closing) return;
        ws::read_result r = c.reader.next(data);
        data = data.subspan(r.consumed);
        switch (r.event) {
            case ws::read_event::need_more:
                break;
            case ws::read_event::binary:
                on_binary(index, r.payload, now);
                received_audio = true;
                break;
            case ws::read_event::text:
                on_text(index, {reinterpret_cast<const char*>(r.payload.data()), r.payload.size()},
                        now);
                break;
            case ws::read_event::ping:
                append_frame(index, static_cast<uint8_t>(ws::opcode::pong), r.payload.data(),
                             r.payload.size());
                break;
            case ws::read_event::pong:
                break;
            case ws::read_event::close:
                if (c.phase != conn_phase::closing) {
                    note_error("server closed a connection: " + std::to_string(r.close_code) + " " +
                               std::string(r.close_reason));
                    lost_connection(index);
                }
                return;
            case ws::read_event::fail:
                fail_connection(index, "bad frame from the server: " + std::string(r.close_reason));
                return;
        }
        if (r.event == ws::read_event::need_more) break;
    }
    if (received_audio) _stats->last_receive_ns.store(now, std::memory_order_relaxed);
}

void worker::fail_connection(uint32_t index, const std::string& why) {
    client_conn& c = _conns[index];
    note_error(why);
    ++_stats->errors;
    if (c.phase == conn_phase::handshaking) --_handshaking;
    if (!c.joined) {
        ++_stats->failed;
        if (!c.churner || c.cycles == 0) ++_settled;
    }
    c.phase = conn_phase::closing;
    _loop->close(c.handle, net::close_mode::abort);
}

// The server or the network ended a connection we did not close.
void worker::lost_connection(uint32_t index) {
    client_conn& c = _conns[index];
    if (c.phase == conn_phase::handshaking) {
        fail_connection(index, "connection closed during the handshake");
        return;
    }
    if (c.phase == conn_phase::closing) {
        _loop->close(c.handle, net::close_mode::abort);
        return;
    }
    ++_stats->closed_early;
    ++_stats->errors;
    c.phase = conn_phase::closing;
    _loop->close(c.handle, net::close_mode::abort);
}

void worker::on_hangup(net::conn_handle conn, int error) {
    uint32_t index = 0;
    client_conn* c = find(conn, &index);
    if (!c) {
        _loop->close(conn, net::close_mode::abort);
        return;
    }
    const net::tls::tls_session* tls = _tls ? _tls->session_of(conn) : nullptr;
    if (c->phase != conn_phase::closing && error == -EPROTO && tls) {
        note_error("TLS failed: " + tls->error() +
                   (_options.insecure ? "" : " (--insecure accepts a self-signed certificate)"));
    } else if (c->phase != conn_phase::closing && error != 0) {
        note_error(std::string("connection failed: ") + std::strerror(-error));
    }
    lost_connection(index);
}

void worker::on_closed(net::conn_handle conn) {
    uint32_t index = 0;
    client_conn* c = find(conn, &index);
    if (!c) return;
    _slot_to_conn[conn.index] = UINT32_MAX;
    c->handle = {};
    c->phase = conn_phase::idle;
    c->sending = false;
    c->in_flight.clear();
    c->out.clear();
    bool reconnect =
        c->churner && !_closing &&
        _control->phase.load(std::memory_order_relaxed) == static_cast<int>(run_phase::running);
    if (c->joined && !c->churner && _options.scenario != scenario_kind::echo)
        _rooms[c->room].joined--;
    c->joined = false;
    if (reconnect) open_connection(index);
}

void worker::on_detached(net::conn_handle, int fd, std::unique_ptr<net::transport_state>) {
    ::close(fd);
}

void worker::on_tick() {
    uint64_t now = base::monotonic_ns();
    if (_next_to_open < _conns.size() && !_closing) open_due_connections(now);
    check_connect_done(now);
    if (now - _last_publish_ns >= publish_interval_ns) {
        _last_publish_ns = now;
        publish_progress();
    }
}

void worker::check_connect_done(uint64_t now) {
    if (_settled >= _conns.size() && _stats->connect_done_ns.load() == 0)
        _stats->connect_done_ns.store(now);
}

void worker::before_sleep() {
    uint64_t now = base::monotonic_ns();
    int phase = _control->phase.load(std::memory_order_acquire);
    if (!_closing && now - _last_series_ns >= series_interval_ns) record_series(now);
    if (phase == static_cast<int>(run_phase::closing) && !_closing) {
        record_series(now);
        _closing = true;
        _closing_since_ns = now;
        close_all();
    }
    if (_closing) {
        if (_loop->connection_count() == 0 || now - _closing_since_ns > close_wait_ns)
            _loop->stop();
    } else {
        send_due_traffic(now);
        if (!_sending_done && phase == static_cast<int>(run_phase::draining)) {
            _sending_done = true;  // nothing more is appended; what is queued is flushed below
            publish_progress();
            _stats->sending_done.store(true, std::memory_order_release);
        }
    }
    for (size_t i = 0; i < _dirty.size(); ++i) {
        uint32_t index = _dirty[i];
        _conns[index].dirty = false;
        flush(index);
    }
    _dirty.clear();
}

// Ends the run: a close frame (1000) on every open WebSocket, then a graceful close so that it is
// delivered; connections still handshaking are dropped.
void worker::close_all() {
    uint8_t payload[2] = {0x03, 0xe8};  // 1000
    for (uint32_t index = 0; index < _conns.size(); ++index) {
        client_conn& c = _conns[index];
        if (!c.handle.valid() || c.phase == conn_phase::idle) continue;
        if (c.phase == conn_phase::open) {
            append_frame(index, static_cast<uint8_t>(ws::opcode::close), payload, sizeof(payload));
            flush(index);
            c.phase = conn_phase::closing;
            _loop->close(c.handle, net::close_mode::graceful);
        } else if (c.phase == conn_phase::handshaking) {
            c.phase = conn_phase::closing;
            _loop->close(c.handle, net::close_mode::abort);
        }
    }
}

void worker::note_error(const std::string& what) {
    if (_stats->first_error.empty()) _stats->first_error = what;
}

}  // namespace chorus::bench
