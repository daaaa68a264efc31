// The event-loop interface every core runs on: a small completion-based API with two backends
// (io_uring and epoll) in separate translation units. It knows sockets and bytes, never protocols.
// One loop belongs to one thread; only wake() and stop() may be called from other threads.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/base/assert.h"

namespace chorus::net {

// A connection slot: {index, generation}. A stale handle (slot reused) is detectable.
struct conn_handle {
    uint32_t index = 0;
    uint32_t generation = 0;  // 0 is never a live generation
    bool valid() const { return generation != 0; }
    bool operator==(const conn_handle&) const = default;
};

enum class backend_kind { uring, epoll };

// Per-connection state that a decorating loop keeps and that must travel with a detached socket
// (a TLS session: net/tls/tls_loop.h). Owned by whoever holds the socket; plain sockets have none.
class transport_state {
  public:
    virtual ~transport_state() = default;
};
const char* backend_name(backend_kind kind);

// How a connection ends. `graceful` is for a connection whose owner has nothing left to send: a
// send still in flight completes (no on_sent follows; a short write is not retried), then the
// write side is shut down and reads continue (discarded) until the peer closes or linger runs
// out, so that a close frame sent just before is not lost to a reset. `abort` closes at once
// with a reset. Known limit: bytes the peer sends while a connection is being detached are
// dropped on io_uring (a WebSocket client must wait for the 101 before sending).
enum class close_mode { graceful, abort };

struct loop_config {
    uint32_t connections_max = 1024;                // slots in this loop's connection slab
    uint32_t tick_ms = 100;                         // on_tick period
    uint32_t linger_ms = 2000;                      // upper bound of a graceful close
    uint32_t recv_bytes_per_pass_max = 256 * 1024;  // fairness: per connection, epoll only
    std::string overload_response;  // written to a socket accepted while out of fds/slots
};

// Callbacks from the loop into its owner (the shard). All run on the loop's thread.
class loop_handler {
  public:
    virtual ~loop_handler() = default;
    // A connection was accepted on the listener `listener_id` and is receiving.
    virtual void on_accept(conn_handle conn, int listener_id) = 0;
    // Bytes arrived. `data` is writable scratch memory, valid only during the call.
    virtual void on_data(conn_handle conn, std::span<uint8_t> data) = 0;
    // The send() in flight finished: `result` bytes were written (possibly fewer than asked),
    // or a negative errno. The iovecs and their bytes may be released now.
    virtual void on_sent(conn_handle conn, int64_t result) = 0;
    // The peer closed (error 0) or the connection failed (negative errno). The owner must call
    // close(); no further on_data follows.
    virtual void on_hangup(conn_handle conn, int error) = 0;
    // close() finished: the slot is free and the handle is stale from now on.
    virtual void on_closed(conn_handle conn) = 0;
    // detach() finished: the socket `fd` now belongs to the caller; the slot is free.
    // `transport` is the connection's transport state (null for a plain socket), to hand to
    // adopt_moved() with the fd.
    virtual void on_detached(conn_handle conn, int fd,
                             std::unique_ptr<transport_state> transport) = 0;
    // Another thread called wake().
    virtual void on_wake() = 0;
    // Called every loop_config::tick_ms (roughly).
    virtual void on_tick() = 0;
    // The loop is about to wait for events: write replies now so they are submitted together.
    virtual void before_sleep() = 0;
    // The sends of this pass have been handed to the kernel (io_uring: submitted; epoll: written
    // in send()); the loop is about to wait. For timing the pass and the fan-out.
    virtual void after_submit() {}
    // The wait returned; a pass begins (for loop-pass timing).
    virtual void after_wake() {}
    // The latest time (monotonic ms) the next wait may last until, asked once per pass after
    // before_sleep: an owner's own timers sooner than the tick. UINT64_MAX: none.
    virtual uint64_t wake_by_ms() { return UINT64_MAX; }
};

class event_loop {
  public:
    virtual ~event_loop() = default;
    virtual backend_kind kind() const = 0;

    // Starts accepting on a listening socket (owned by the loop from now on). Returns the
    // listener id passed to on_accept, or a negative errno.
    virtual int add_listener(int fd) = 0;
    // Stops accepting and closes every listener (used when draining). The port stops listening
    // before this returns: connections queued on a listener and not yet accepted are reset.
    virtual void close_listeners() = 0;
    // Registers an already connected socket (taken over by the loop) and starts receiving.
    // Returns an invalid handle if the slab is full (the fd is then closed).
    virtual conn_handle adopt(int fd) = 0;
    // adopt() for a socket detached with transport state (from on_detached). A backend has no
    // transport state of its own, so only a decorator (TLS) is given one.
    virtual conn_handle adopt_moved(int fd, std::unique_ptr<transport_state> transport) {
        CHORUS_ASSERT(transport == nullptr);
        return adopt(fd);
    }
    // Sends the bytes of `iov` (at most iov_max entries). One send may be in flight per
    // connection; the caller keeps the iovecs' bytes alive until on_sent. Returns false if a
    // send is already in flight or the connection is closing.
    static constexpr int iov_max = 1024;  // UIO_MAXIOV: a pass's frames go out in one send
    virtual bool send(conn_handle conn, const iovec* iov, int iov_count) = 0;
    // Ends a connection; on_closed follows once nothing is in flight. Idempotent.
    virtual void close(conn_handle conn, close_mode mode) = 0;
    // Stops receiving and hands the socket back through on_detached (for moving a connection
    // to another core). Must not be called while a send is in flight.
    virtual void detach(conn_handle conn) = 0;
    // The peer's address (getpeername); false for a stale handle.
    virtual bool peer_address(conn_handle conn, sockaddr_storage* out) = 0;
    // True while `conn` names a live slot of this loop.
    virtual bool alive(conn_handle conn) const = 0;
    virtual uint32_t connection_count() const = 0;

    // Runs until stop(). Calls the handler from this thread only.
    virtual void run() = 0;
    // Thread-safe.
    virtual void stop() = 0;
    virtual void wake() = 0;
};

// Says whether io_uring can be used here, and if not, why (for the log).
bool uring_available(std::string* why);

std::unique_ptr<event_loop> make_uring_loop(const loop_config& config, loop_handler* handler,
                                            std::string* error);
std::unique_ptr<event_loop> make_epoll_loop(const loop_config& config, loop_handler* handler,
                                            std::string* error);

// Creates a non-blocking SO_REUSEPORT socket bound to "host:port" or "[v6]:port" that does not
// listen yet: until start_listening(), a connection to the port is refused, never queued.
// Returns the fd (owned by the caller) or a negative errno; `error` says what went wrong for
// people.
int bind_listener(const std::string& address, std::string* error);
// Whether some socket already listens on "host:port" (any process, any user). SO_REUSEPORT
// would let a second server join that socket's group and silently take half of the new
// connections, so a server checks this before bind_listener(). False for port 0.
bool address_has_listener(const std::string& address);
// listen() on a socket from bind_listener(): from now on the kernel accepts connections for it.
// Returns 0 or a negative errno.
int start_listening(int fd, int backlog);
// bind_listener() and start_listening() in one step.
int open_listener(const std::string& address, int backlog, std::string* error);

}  // namespace chorus::net
