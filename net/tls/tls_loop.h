// A loop decorator that gives connections TLS: it sits between a backend (io_uring or epoll) and
// the loop's owner, is the backend's handler and the owner's event_loop, and passes plain
// connections through untouched. For a TLS connection it feeds received ciphertext to the
// connection's tls_session and hands the owner plaintext; an owner's send (a pass's frames for
// one connection) becomes one TLS write, so coalescing survives encryption; ciphertext goes out
// in one backend send at the end of the pass. The owner sees the same contract as on a plain
// socket: one send in flight, on_sent once all its bytes are in the kernel.
#pragma once

#include <memory>
#include <vector>

#include "net/loop.h"
#include "net/tls/tls_context.h"
#include "net/tls/tls_session.h"

namespace chorus::net::tls {

class tls_loop final : public event_loop, private loop_handler {
  public:
    // `contexts` (may be null on a client-only loop) outlives the loop.
    tls_loop(loop_handler* owner, server_contexts* contexts, uint32_t connections_max);
    ~tls_loop() override;
    // The backend, made with this object as its handler.
    loop_handler* backend_handler() { return this; }
    void set_backend(std::unique_ptr<event_loop> backend) { _backend = std::move(backend); }

    // Accepts on `fd` like add_listener, with a TLS server session on every connection.
    int add_tls_listener(int fd);
    // Registers a connecting or connected socket as a TLS client on `context` (the load
    // generator): the ClientHello goes out with this pass; sends before the handshake wait.
    conn_handle adopt_client(int fd, SSL_CTX* context, const std::string& server_name);
    // What happened to TLS connections on this loop so far (loop thread only).
    struct tls_counts {
        uint64_t handshakes = 0;   // finished server handshakes
        uint64_t own_records = 0;  // of those, TLS 1.3 sessions whose records chorusd seals
        uint64_t failures = 0;     // server sessions ended by a TLS error (bad or plain input)
        uint64_t plain_http = 0;   // of those, plain HTTP requests answered with a 400
    };
    const tls_counts& counts() const { return _counts; }
    // The session of a live TLS connection, else nullptr (e.g. to say why it failed).
    const tls_session* session_of(conn_handle conn) const;

    // event_loop
    backend_kind kind() const override { return _backend->kind(); }
    int add_listener(int fd) override;
    void close_listeners() override { _backend->close_listeners(); }
    conn_handle adopt(int fd) override;
    conn_handle adopt_moved(int fd, std::unique_ptr<transport_state> transport) override;
    bool send(conn_handle conn, const iovec* iov, int iov_count) override;
    void close(conn_handle conn, close_mode mode) override;
    void detach(conn_handle conn) override;
    bool peer_address(conn_handle conn, sockaddr_storage* out) override {
        return _backend->peer_address(conn, out);
    }
    bool alive(conn_handle conn) const override { return _backend->alive(conn); }
    uint32_t connection_count() const override { return _backend->connection_count(); }
    void run() override { _backend->run(); }
    void stop() override { _backend->stop(); }
    void wake() override { _backend->wake(); }

  private:
    // What the decorator keeps per slot of the backend's slab.
    struct tls_slot {
        std::unique_ptr<tls_session> session;  // null: a plain connection
        conn_handle conn;
        bool dirty = false;         // in _dirty: ciphertext to write at the end of the pass
        bool sending = false;       // a backend send of ciphertext is in flight
        bool owner_closed = false;  // the owner closed or detached it: no more callbacks
        bool close_after = false;   // close gracefully once the output is written
        bool detach_after = false;  // detach once the send in flight is done
        bool self_closed = false;   // we closed it (TLS failure); the owner hears on_closed
    };

    // loop_handler (from the backend)
    void on_accept(conn_handle conn, int listener_id) override;
    void on_data(conn_handle conn, std::span<uint8_t> data) override;
    void on_sent(conn_handle conn, int64_t result) override;
    void on_hangup(conn_handle conn, int error) override;
    void on_closed(conn_handle conn) override;
    void on_detached(conn_handle conn, int fd, std::unique_ptr<transport_state> transport) override;
    void on_wake() override { _owner->on_wake(); }
    void on_tick() override { _owner->on_tick(); }
    void before_sleep() override;
    void after_submit() override { _owner->after_submit(); }
    void after_wake() override { _owner->after_wake(); }
    uint64_t wake_by_ms() override { return _owner->wake_by_ms(); }

    tls_slot* tls_of(conn_handle conn);
    void mark_dirty(tls_slot& slot);
    void flush(tls_slot& slot);
    void fail(tls_slot& slot, tls_status status);
    void sent_all(tls_slot& slot);
    bool send_own_records(tls_slot& slot, const iovec* iov, int iov_count);

    loop_handler* _owner;
    server_contexts* _contexts;
    std::unique_ptr<event_loop> _backend;
    std::vector<tls_slot> _slots;
    std::vector<bool> _tls_listener;  // by listener id
    std::vector<conn_handle> _dirty;
    std::unique_ptr<uint8_t[]> _plain;
    tls_counts _counts;  // plaintext scratch: receive, and gathering a send
};

}  // namespace chorus::net::tls
