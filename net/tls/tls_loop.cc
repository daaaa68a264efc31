// The TLS decorator's bookkeeping. Every backend send of ciphertext is made at the end of the
// pass (after the owner's own before_sleep), so the records of a connection's whole pass go out
// together; the owner's on_sent is reported once the ciphertext holding its last byte is written.
#include "net/tls/tls_loop.h"

#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>

#include "core/base/assert.h"

namespace chorus::net::tls {

namespace {

// Plaintext gathered for one TLS write: a pass's frames for one connection are usually far
// less, so they become one write (a record holds 16 KiB, so up to four records).
constexpr size_t send_gather_bytes = 64 * 1024;
// One SSL_read's worth: a whole record's content.
constexpr size_t receive_plain_bytes = tls_session::receive_scratch_bytes;
constexpr uint64_t mark_unknown = UINT64_MAX;  // the owner's bytes wait for the handshake

constexpr char plain_http_response[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 55\r\n"
    "Connection: close\r\n"
    "\r\n"
    "This port speaks TLS: use https:// or wss:// instead.\r\n";
static_assert(sizeof("This port speaks TLS: use https:// or wss:// instead.\r\n") - 1 == 55);

}  // namespace

tls_loop::tls_loop(loop_handler* owner, server_contexts* contexts, uint32_t connections_max)
    : _owner(owner),
      _contexts(contexts),
      _slots(connections_max),
      _plain(new uint8_t[send_gather_bytes + receive_plain_bytes]) {
    _dirty.reserve(1024);
}

tls_loop::~tls_loop() {
    _backend.reset();  // the backend's teardown may still call us; sessions go after it
}

int tls_loop::add_listener(int fd) {
    int id = _backend->add_listener(fd);
    if (id >= 0) {
        if (_tls_listener.size() <= static_cast<size_t>(id)) _tls_listener.resize(id + 1, false);
        _tls_listener[id] = false;
    }
    return id;
}

int tls_loop::add_tls_listener(int fd) {
    CHORUS_ASSERT(_contexts != nullptr);
    int id = _backend->add_listener(fd);
    if (id >= 0) {
        if (_tls_listener.size() <= static_cast<size_t>(id)) _tls_listener.resize(id + 1, false);
        _tls_listener[id] = true;
    }
    return id;
}

tls_loop::tls_slot* tls_loop::tls_of(conn_handle conn) {
    if (conn.index >= _slots.size()) return nullptr;
    tls_slot& slot = _slots[conn.index];
    if (!slot.session || !(slot.conn == conn)) return nullptr;
    return &slot;
}

const tls_session* tls_loop::session_of(conn_handle conn) const {
    return const_cast<tls_loop*>(this)->tls_of(conn) ? _slots[conn.index].session.get() : nullptr;
}

conn_handle tls_loop::adopt(int fd) {
    conn_handle conn = _backend->adopt(fd);
    if (conn.valid()) _slots[conn.index] = tls_slot{nullptr, conn};
    return conn;
}

conn_handle tls_loop::adopt_moved(int fd, std::unique_ptr<transport_state> transport) {
    conn_handle conn = _backend->adopt(fd);
    if (!conn.valid()) return conn;  // the backend closed the fd; the session goes with this
    tls_slot& slot = _slots[conn.index];
    slot = tls_slot{nullptr, conn};
    if (!transport) return conn;
    auto* session = dynamic_cast<tls_session*>(transport.get());
    CHORUS_ASSERT(session != nullptr);
    transport.release();
    slot.session.reset(session);
    session->in_flight_offset = 0;
    if (session->has_output()) mark_dirty(slot);  // e.g. the session ticket
    return conn;
}

conn_handle tls_loop::adopt_client(int fd, SSL_CTX* context, const std::string& server_name) {
    conn_handle conn = _backend->adopt(fd);
    if (!conn.valid()) return conn;
    tls_slot& slot = _slots[conn.index];
    slot = tls_slot{tls_session::make(context, tls_role::client, nullptr), conn};
    if (!slot.session || !slot.session->set_server_name(server_name) ||
        slot.session->start() != tls_status::ok) {
        slot.session.reset();
        _backend->close(conn, close_mode::abort);
        return {};  // on_closed follows for a handle the owner never saw
    }
    mark_dirty(slot);
    return conn;
}

void tls_loop::on_accept(conn_handle conn, int listener_id) {
    tls_slot& slot = _slots[conn.index];
    slot = tls_slot{nullptr, conn};
    bool tls = listener_id >= 0 && static_cast<size_t>(listener_id) < _tls_listener.size() &&
               _tls_listener[listener_id];
    _owner->on_accept(conn, listener_id);
    if (!tls || !_backend->alive(conn)) return;
    SSL_CTX* context = _contexts->acquire();
    slot.session = tls_session::make(context, tls_role::server, nullptr);
    SSL_CTX_free(context);  // the session took its own reference
    if (!slot.session) {    // out of memory: the owner hears on_closed
        _backend->close(conn, close_mode::abort);
        return;
    }
}

void tls_loop::on_data(conn_handle conn, std::span<uint8_t> data) {
    tls_slot* slot = tls_of(conn);
    if (!slot) {
        _owner->on_data(conn, data);
        return;
    }
    if (slot->owner_closed || slot->self_closed) return;
    tls_session& session = *slot->session;
    bool was_done = session.handshake_done();
    std::span<uint8_t> scratch(_plain.get() + send_gather_bytes, receive_plain_bytes);
    tls_status status = session.receive(data, scratch, [&](std::span<uint8_t> plain) {
        _owner->on_data(conn, plain);
        return !slot->owner_closed && !slot->self_closed && _backend->alive(conn);
    });
    if (!was_done && session.handshake_done() && session.role() == tls_role::server) {
        ++_counts.handshakes;
        if (session.own_records()) ++_counts.own_records;
    }
    // A client's early bytes were encrypted when its handshake finished.
    if (session.owner_bytes && session.owner_mark == mark_unknown && session.handshake_done())
        session.owner_mark = session.output_total();
    if (session.has_output()) mark_dirty(*slot);
    if (status == tls_status::peer_closed) {
        if (!slot->owner_closed) _owner->on_hangup(conn, 0);
    } else if (status != tls_status::ok) {
        fail(*slot, status);
    }
}

// A TLS failure. A server writes the alert OpenSSL made (or, to a plain HTTP request, a plain
// 400 that says to use https), then closes gracefully; its owner hears on_closed. A client's
// owner (the load generator) hears on_hangup(-EPROTO) and can ask session_of() why.
void tls_loop::fail(tls_slot& slot, tls_status status) {
    if (slot.owner_closed) {
        _backend->close(slot.conn, close_mode::abort);
        return;
    }
    if (slot.session->role() == tls_role::client) {
        _owner->on_hangup(slot.conn, -EPROTO);
        return;
    }
    slot.self_closed = true;
    slot.close_after = true;
    tls_session& session = *slot.session;
    ++_counts.failures;
    if (status == tls_status::plain_http) ++_counts.plain_http;
    if (status == tls_status::plain_http && !slot.sending) {
        std::string discarded;
        session.take_output(discarded);
        session.in_flight.assign(plain_http_response, sizeof(plain_http_response) - 1);
        session.in_flight_offset = 0;
    }
    mark_dirty(slot);
}

bool tls_loop::send(conn_handle conn, const iovec* iov, int iov_count) {
    tls_slot* slot = tls_of(conn);
    if (!slot) return _backend->send(conn, iov, iov_count);
    tls_session& session = *slot->session;
    if (slot->owner_closed || slot->self_closed || session.owner_bytes) return false;
    if (session.own_records()) return send_own_records(*slot, iov, iov_count);
    uint8_t* gather = _plain.get();
    size_t gathered = 0;
    uint64_t total = 0;
    tls_status status = tls_status::ok;
    for (int i = 0; i < iov_count && status == tls_status::ok; ++i) {
        const auto* bytes = static_cast<const uint8_t*>(iov[i].iov_base);
        size_t length = iov[i].iov_len;
        total += length;
        while (length > 0 && status == tls_status::ok) {
            size_t n = std::min(length, send_gather_bytes - gathered);
            std::memcpy(gather + gathered, bytes, n);
            gathered += n;
            bytes += n;
            length -= n;
            if (gathered == send_gather_bytes) {
                status = session.send({gather, gathered});
                gathered = 0;
            }
        }
    }
    if (gathered > 0 && status == tls_status::ok) status = session.send({gather, gathered});
    if (status != tls_status::ok) {
        fail(*slot, status);
        return false;
    }
    session.owner_bytes = total;
    session.owner_mark = session.handshake_done() ? session.output_total() : mark_unknown;
    mark_dirty(*slot);
    return true;
}

// A TLS 1.3 session copies the owner's buffers into its records: no gather buffer.
bool tls_loop::send_own_records(tls_slot& slot, const iovec* iov, int iov_count) {
    tls_session& session = *slot.session;
    uint64_t total = 0;
    for (int i = 0; i < iov_count; ++i) total += iov[i].iov_len;
    tls_status status = session.send(iov, iov_count);
    if (status != tls_status::ok) {
        fail(slot, status);
        return false;
    }
    session.owner_bytes = total;
    session.owner_mark = session.output_total();
    mark_dirty(slot);
    return true;
}

void tls_loop::close(conn_handle conn, close_mode mode) {
    tls_slot* slot = tls_of(conn);
    if (!slot) {
        _backend->close(conn, mode);
        return;
    }
    if (mode == close_mode::abort) {
        slot->owner_closed = true;
        _backend->close(conn, close_mode::abort);
        return;
    }
    if (slot->owner_closed) return;
    slot->owner_closed = true;
    if (slot->self_closed) return;  // already closing once its output is written
    slot->session->shutdown();
    slot->close_after = true;
    mark_dirty(*slot);
}

void tls_loop::detach(conn_handle conn) {
    tls_slot* slot = tls_of(conn);
    if (!slot) {
        _backend->detach(conn);
        return;
    }
    CHORUS_ASSERT(slot->session->owner_bytes == 0);  // the owner detaches only when idle
    slot->owner_closed = true;
    slot->detach_after = true;
    if (!slot->sending) mark_dirty(*slot);
}

void tls_loop::mark_dirty(tls_slot& slot) {
    if (slot.dirty) return;
    slot.dirty = true;
    _dirty.push_back(slot.conn);
}

void tls_loop::before_sleep() {
    _owner->before_sleep();
    for (size_t i = 0; i < _dirty.size(); ++i) {
        tls_slot* slot = tls_of(_dirty[i]);
        if (!slot) continue;
        slot->dirty = false;
        flush(*slot);
    }
    _dirty.clear();
}

// One backend send of the connection's ciphertext (the rest of a short write first), then a
// detach or graceful close that waits for it.
void tls_loop::flush(tls_slot& slot) {
    if (slot.sending) return;  // on_sent marks it dirty again
    tls_session& session = *slot.session;
    bool rest = session.in_flight_offset < session.in_flight.size();
    if (!rest && session.has_output() && !slot.detach_after) {
        session.take_output(session.in_flight);
        session.in_flight_offset = 0;
        rest = true;
    }
    if (rest) {
        iovec iov{session.in_flight.data() + session.in_flight_offset,
                  session.in_flight.size() - session.in_flight_offset};
        slot.sending = _backend->send(slot.conn, &iov, 1);
        if (!slot.sending) return;  // the backend is closing it already
    }
    if (slot.close_after) {
        slot.close_after = false;
        _backend->close(slot.conn, close_mode::graceful);
    } else if (slot.detach_after && !slot.sending) {
        _backend->detach(slot.conn);  // unsent records travel with the session
    }
}

void tls_loop::on_sent(conn_handle conn, int64_t result) {
    tls_slot* slot = tls_of(conn);
    if (!slot) {
        _owner->on_sent(conn, result);
        return;
    }
    slot->sending = false;
    tls_session& session = *slot->session;
    if (result < 0) {
        session.in_flight.clear();
        session.in_flight_offset = 0;
        if (slot->owner_closed || slot->self_closed) {
            _backend->close(conn, close_mode::abort);
        } else if (session.owner_bytes) {
            session.owner_bytes = 0;
            _owner->on_sent(conn, result);
        } else {
            _owner->on_hangup(conn, static_cast<int>(result));
        }
        return;
    }
    session.in_flight_offset += static_cast<size_t>(result);
    session.sent_total += static_cast<uint64_t>(result);
    if (session.in_flight_offset < session.in_flight.size()) {
        mark_dirty(*slot);  // a short write: the rest goes out at the end of this pass
        return;
    }
    std::string().swap(session.in_flight);  // an idle connection keeps no send buffer
    session.in_flight_offset = 0;
    sent_all(*slot);
}

void tls_loop::sent_all(tls_slot& slot) {
    tls_session& session = *slot.session;
    if (session.owner_bytes && session.owner_mark != mark_unknown &&
        session.sent_total >= session.owner_mark) {
        uint64_t bytes = session.owner_bytes;
        session.owner_bytes = 0;
        if (!slot.owner_closed && !slot.self_closed)
            _owner->on_sent(slot.conn, static_cast<int64_t>(bytes));
    }
    if (session.has_output() || slot.close_after || slot.detach_after) mark_dirty(slot);
}

void tls_loop::on_hangup(conn_handle conn, int error) {
    tls_slot* slot = tls_of(conn);
    if (slot && (slot->owner_closed || slot->self_closed)) {
        _backend->close(conn, close_mode::abort);
        return;
    }
    _owner->on_hangup(conn, error);
}

void tls_loop::on_closed(conn_handle conn) {
    if (conn.index < _slots.size() && _slots[conn.index].conn == conn)
        _slots[conn.index] = tls_slot{};
    _owner->on_closed(conn);
}

void tls_loop::on_detached(conn_handle conn, int fd, std::unique_ptr<transport_state>) {
    std::unique_ptr<transport_state> session;
    if (conn.index < _slots.size() && _slots[conn.index].conn == conn) {
        session = std::move(_slots[conn.index].session);
        _slots[conn.index] = tls_slot{};
    }
    _owner->on_detached(conn, fd, std::move(session));
}

}  // namespace chorus::net::tls
