// A shard's cross-core records: posting to another shard's ring (refusing politely when it is
// full), draining its own rings on a wake, and handling a record: a connection handed off to the
// room's home shard, a rooms-listing query or reply, a drain request. Also what the main thread
// hands a running shard: its listening socket, and the drain request.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include "core/base/clock.h"
#include "core/shard.h"
#include "ws/handshake.h"

namespace chorus::core {

void shard::post(uint32_t to, const cross_record& record) {
    cross_record copy = record;
    copy.from = _id;
    copy.sent_ns = base::monotonic_ns();
    if (!_context.ring(_id, to).try_push(copy)) {
        // The ring is full (the other core is stalled): refuse rather than wait.
        if (copy.kind == cross_kind::handoff) {
            std::string response;
            ws::append_error_response(response, 503, "overloaded", "server busy; try again");
            std::unique_ptr<handoff_payload> payload(static_cast<handoff_payload*>(copy.data));
            if (!payload->transport) {  // a TLS connection cannot be told in plain text
                ssize_t written = ::send(copy.fd, response.data(), response.size(), MSG_DONTWAIT);
                (void)written;
            }
            ::close(copy.fd);
            release_counts(copy.tag);
        } else if (copy.kind == cross_kind::rooms_query) {
            // The other shard will not answer: count it as an empty reply.
            collect_rooms_reply({cross_kind::rooms_reply, to, -1, copy.tag, 0, nullptr});
        } else if (copy.kind == cross_kind::rooms_reply) {
            delete static_cast<std::string*>(copy.data);
        }
        return;
    }
    _wake_pending[to] = true;
}

// Gives back the global and per-IP counts of a connection that never got a session here.
void shard::release_counts(uint32_t ip_slot) {
    _context.connections.fetch_sub(1, std::memory_order_relaxed);
    if (ip_slot != UINT32_MAX)
        _context.ip_connections[ip_slot].fetch_sub(1, std::memory_order_relaxed);
}

void shard::on_wake() {
    // A start-up step asked now is read before the cluster ring is drained: the link events the
    // engine sent before it was asked are then applied before the step is done.
    int asked = _start_asked.load(std::memory_order_acquire);
    drain_rings();
    _sync->poll();
    while (_start_handled < asked) run_start_step(++_start_handled);
}

void shard::run() {
    _loop->run();
    std::lock_guard lock(_start_mutex);
    if (_start_error == 0) _start_error = -ECANCELED;  // a step asked later is not done
    _start_done = start_steps_ended;
    _start_changed.notify_all();
}

void shard::give_listener(int fd, int tls_fd) {
    _listen_fd = fd;  // published to the loop thread by the step's release
    _tls_listen_fd = tls_fd;
    ask_start_step(start_step_take);
}

void shard::start_listening() {
    ask_start_step(start_step_listen);
}

void shard::ask_start_step(int step) {
    _start_asked.store(step, std::memory_order_release);
    _loop->wake();
}

int shard::wait_started() {
    int step = _start_asked.load(std::memory_order_relaxed);  // written by this thread only
    std::unique_lock lock(_start_mutex);
    if (!_start_changed.wait_for(lock, std::chrono::milliseconds(start_step_ms_max),
                                 [&] { return _start_done >= step; }))
        return -ETIMEDOUT;  // a loop thread that does not answer: fail the start loudly
    return _start_error;
}

// Loop thread. Taking the listener needs nothing more than the drain on_wake did before; the
// listening starts here, so the loop accepts from this pass on: a connection the kernel queues
// is one this shard serves.
void shard::run_start_step(int step) {
    int rc = 0;
    if (step == start_step_listen) {
        for (int* taken : {&_listen_fd, &_tls_listen_fd}) {
            int fd = std::exchange(*taken, -1);
            if (fd < 0 || rc < 0) {
                if (fd >= 0) ::close(fd);
                continue;
            }
            rc = _draining ? -ECANCELED : net::start_listening(fd, listen_backlog_max);
            if (rc < 0) {
                ::close(fd);
            } else if (taken == &_tls_listen_fd) {
                rc = _tls->add_tls_listener(fd);  // the loop owns the socket from here
            } else {
                rc =
                    _loop->add_listener(fd);  // the loop owns the socket from here, even on failure
            }
        }
    }
    std::lock_guard lock(_start_mutex);
    if (rc < 0 && _start_error == 0) _start_error = rc;
    _start_done = step;
    _start_changed.notify_all();
}

void shard::drain_rings() {
    uint64_t now_ns = base::monotonic_ns();
    for (uint32_t from = 0; from < _context.shards.size(); ++from) {
        if (from == _id) continue;
        _context.ring(from, _id).consume(
            [&](const cross_record& record) {
                _metrics.ring_dwell.record_ns(now_ns - record.sent_ns);
                handle_record(record);
            },
            ring_records_per_pass_max);
    }
}

void shard::request_drain() {
    _drain_requested.store(true, std::memory_order_relaxed);
    _loop->wake();
}

void shard::handle_record(const cross_record& record) {
    switch (record.kind) {
        case cross_kind::handoff: {
            std::unique_ptr<handoff_payload> payload(static_cast<handoff_payload*>(record.data));
            if (_draining) {  // too late to join here: the client reconnects elsewhere
                ::close(record.fd);
                release_counts(record.tag);
                return;
            }
            net::conn_handle conn = _loop->adopt_moved(record.fd, std::move(payload->transport));
            if (!conn.valid()) {
                release_counts(record.tag);
                return;
            }
            session& s = open_session(conn);
            s.counted = true;
            s.ip_slot = record.tag;
            s.http_in = std::move(payload->head);
            _metrics.handoffs.add();
            std::string_view bytes = *s.http_in;
            on_http_data(s, {reinterpret_cast<const uint8_t*>(bytes.data()), 0});
            break;
        }
        case cross_kind::rooms_query:
            answer_rooms_query(record);
            break;
        case cross_kind::rooms_reply:
            collect_rooms_reply(record);
            break;
        case cross_kind::drain:
            request_drain();
            break;
    }
}

void shard::on_detached(net::conn_handle conn, int fd,
                        std::unique_ptr<net::transport_state> transport) {
    session* s = find(conn);
    CHORUS_ASSERT(s != nullptr);
    CHORUS_ASSERT(s->http_in != nullptr);
    // The request head (and a TLS session) travel with the socket; its new shard parses the
    // head again.
    uint32_t target = s->handoff_to;
    auto* payload = new handoff_payload{std::move(s->http_in), std::move(transport)};
    cross_record record{cross_kind::handoff, _id, fd, s->ip_slot, 0, payload};
    s->counted = false;  // the connection's count and ip slot move with it
    s->ip_slot = UINT32_MAX;
    release_session(*s);
    post(target, record);
}

}  // namespace chorus::core
