// A shard's cross-core records: posting to another shard's ring (refusing politely when it is
// full), draining its own rings on a wake, and handling a record: a connection handed off to the
// room's home shard, a rooms-listing query or reply, a drain request.
#include <sys/socket.h>
#include <unistd.h>

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
            ssize_t written = ::send(copy.fd, response.data(), response.size(), MSG_DONTWAIT);
            (void)written;
            ::close(copy.fd);
            delete static_cast<std::string*>(copy.data);
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
    drain_rings();
    _sync->poll();
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
            std::unique_ptr<std::string> head(static_cast<std::string*>(record.data));
            if (_draining) {  // too late to join here: the client reconnects elsewhere
                ::close(record.fd);
                release_counts(record.tag);
                return;
            }
            net::conn_handle conn = _loop->adopt(record.fd);
            if (!conn.valid()) {
                release_counts(record.tag);
                return;
            }
            session& s = open_session(conn);
            s.counted = true;
            s.ip_slot = record.tag;
            s.http_in = std::move(head);
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

void shard::on_detached(net::conn_handle conn, int fd) {
    session* s = find(conn);
    CHORUS_ASSERT(s != nullptr);
    CHORUS_ASSERT(s->http_in != nullptr);
    // The request head travels with the socket; its new shard parses it again.
    uint32_t target = s->handoff_to;
    cross_record record{cross_kind::handoff, _id, fd, s->ip_slot, 0, s->http_in.release()};
    s->counted = false;  // the connection's count and ip slot move with it
    s->ip_slot = UINT32_MAX;
    release_session(*s);
    post(target, record);
}

}  // namespace chorus::core
