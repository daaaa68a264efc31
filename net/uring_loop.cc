// The io_uring backend: multishot accept, multishot receive into a provided-buffer ring, one
// sendmsg in flight per connection, and everything a pass prepared submitted in one syscall.
// user_data packs {op, generation:24, index:32}, never a bare fd.
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "net/buffer_ring.h"
#include "net/conn_table.h"
#include "net/loop.h"
#include "net/refusal.h"

namespace chorus::net {
namespace {

enum class op : uint8_t { accept = 1, recv, send, cancel, wake };

constexpr unsigned ring_entries = 4096;

uint64_t pack(op kind, uint32_t index, uint32_t generation) {
    return (uint64_t(kind) << 56) | (uint64_t(generation & 0xffffff) << 32) | index;
}
op unpack_op(uint64_t data) {
    return static_cast<op>(data >> 56);
}
uint32_t unpack_index(uint64_t data) {
    return static_cast<uint32_t>(data);
}
uint32_t unpack_generation(uint64_t data) {
    return static_cast<uint32_t>(data >> 32) & 0xffffff;
}

class uring_loop final : public event_loop {
  public:
    uring_loop(const loop_config& config, loop_handler* handler)
        : _config(config), _handler(handler), _conns(config.connections_max) {}

    ~uring_loop() override {
        for (uint32_t i = 0; i < _conns.capacity(); ++i) {
            conn_slot& slot = _conns.at(i);
            if (slot.state != conn_state::free && slot.fd >= 0) ::close(slot.fd);
        }
        for (int fd : _listeners)
            if (fd >= 0) ::close(fd);
        if (_ring_ready) io_uring_queue_exit(&_ring);
        if (_wake_fd >= 0) ::close(_wake_fd);
        if (_spare_fd >= 0) ::close(_spare_fd);
    }

    bool init(std::string* error) {
        io_uring_params params{};
        // Created disabled: SINGLE_ISSUER binds the ring to the thread that enables it, which is
        // the loop thread (run()), not the thread that builds the loop.
        params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                       IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
        params.cq_entries = ring_entries * 4;
        int rc = io_uring_queue_init_params(ring_entries, &_ring, &params);
        if (rc == -EINVAL) {  // older kernels: no SINGLE_ISSUER / DEFER_TASKRUN
            params = {};
            params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED;
            params.cq_entries = ring_entries * 4;
            rc = io_uring_queue_init_params(ring_entries, &_ring, &params);
        }
        if (rc < 0) {
            *error = std::string("io_uring_queue_init: ") + std::strerror(-rc);
            return false;
        }
        _ring_ready = true;
        if (!_buffers.init(&_ring, error)) return false;
        _pass_bytes.assign(_config.connections_max, 0);
        _wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        _spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (_wake_fd < 0) {
            *error = "eventfd failed";
            return false;
        }
        arm_wake();
        return true;
    }

    backend_kind kind() const override { return backend_kind::uring; }

    int add_listener(int fd) override {
        int id = static_cast<int>(_listeners.size());
        _listeners.push_back(fd);
        arm_accept(id);
        return id;
    }

    void close_listeners() override {
        for (size_t id = 0; id < _listeners.size(); ++id) {
            if (_listeners[id] < 0) continue;
            io_uring_sqe* sqe = get_sqe();
            io_uring_prep_cancel_fd(sqe, _listeners[id], IORING_ASYNC_CANCEL_ALL);
            io_uring_sqe_set_data64(sqe, pack(op::cancel, 0, 0));
            io_uring_submit(&_ring);
            // The accept in flight holds the socket: close() alone leaves it listening (in the
            // SO_REUSEPORT group) until the cancel completes, which may be after this process
            // has exited, when the ring is torn down; a connection the kernel queues on it
            // meanwhile, even one meant for the next server on this port, is then reset.
            // shutdown() stops the listening at once.
            ::shutdown(_listeners[id], SHUT_RDWR);
            ::close(_listeners[id]);
            _listeners[id] = -1;
        }
    }

    conn_handle adopt(int fd) override {
        conn_handle conn = _conns.allocate(fd);
        if (!conn.valid()) {
            ::close(fd);
            return conn;
        }
        int flags = ::fcntl(fd, F_GETFL);
        if (!(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        arm_recv(conn);
        return conn;
    }

    bool send(conn_handle conn, const iovec* iov, int iov_count) override {
        conn_slot* slot = _conns.find(conn);
        if (!slot || slot->state != conn_state::open || slot->send) return false;
        CHORUS_ASSERT(iov_count > 0 && iov_count <= iov_max);
        send_op* request = _conns.take_send_op(iov_count);
        std::memcpy(request->iov(), iov, sizeof(iovec) * iov_count);
        request->iov_count = iov_count;
        request->message = {};
        request->message.msg_iov = request->iov();
        request->message.msg_iovlen = iov_count;
        slot->send = request;
        io_uring_sqe* sqe = get_sqe();
        // A paced receiver gets one frame a pass: a plain send skips importing a msghdr.
        if (iov_count == 1)
            io_uring_prep_send(sqe, slot->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
        else
            io_uring_prep_sendmsg(sqe, slot->fd, &request->message, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, pack(op::send, conn.index, conn.generation));
        ++slot->ops_in_flight;
        return true;
    }

    void close(conn_handle conn, close_mode mode) override {
        conn_slot* slot = _conns.find(conn);
        if (!slot || slot->state == conn_state::closing || slot->state == conn_state::detaching ||
            slot->state == conn_state::finished)
            return;
        if (mode == close_mode::graceful && slot->state == conn_state::lingering) return;
        if (mode == close_mode::graceful && slot->state == conn_state::open) {
            slot->state = conn_state::lingering;
            slot->linger_deadline_ms =
                static_cast<uint32_t>(base::monotonic_ms()) + _config.linger_ms;
            if (!slot->send) ::shutdown(slot->fd, SHUT_WR);
            // Read (and discard) until the peer's EOF or the linger deadline even when no
            // receive is armed right now (its multishot ended in this batch, or it was
            // throttled): closing at once would reset a peer whose reply (its close frame) is
            // still on the way, and a reset can cost the peer the close frame we just sent.
            if (!slot->recv_armed) arm_recv(conn);
            return;
        }
        slot->abort_close = mode == close_mode::abort;
        begin_close(conn, slot);
    }

    void detach(conn_handle conn) override {
        conn_slot* slot = _conns.find(conn);
        if (!slot || slot->state != conn_state::open) return;
        CHORUS_ASSERT(slot->send == nullptr);
        slot->state = conn_state::detaching;
        cancel_ops(conn, slot);
        maybe_finish(conn, slot);
    }

    bool peer_address(conn_handle conn, sockaddr_storage* out) override {
        conn_slot* slot = _conns.find(conn);
        socklen_t length = sizeof(*out);
        return slot && ::getpeername(slot->fd, reinterpret_cast<sockaddr*>(out), &length) == 0;
    }

    bool alive(conn_handle conn) const override {
        return const_cast<conn_table&>(_conns).find(conn) != nullptr;
    }
    uint32_t connection_count() const override { return _conns.live(); }

    void run() override {
        // liburing 2.3 declares io_uring_enable_rings but does not export it: use the syscall.
        int enabled = static_cast<int>(::syscall(__NR_io_uring_register, _ring.ring_fd,
                                                 IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
        if (enabled < 0) enabled = -errno;
        if (enabled < 0) {
            std::fprintf(stderr, "chorusd: cannot enable io_uring: %s\n", std::strerror(-enabled));
            return;
        }
        uint64_t next_tick = base::monotonic_ms() + _config.tick_ms;
        while (!_stop.load(std::memory_order_acquire)) {
            _handler->before_sleep();
            dispatch_finished();
            // Submitting before the wait (rather than in it) costs a syscall only in passes that
            // queued work, and lets the pass be timed up to the moment the kernel took the sends.
            if (io_uring_sq_ready(&_ring) > 0) io_uring_submit(&_ring);
            _handler->after_submit();
            uint64_t now = base::monotonic_ms();
            uint64_t wake_by = std::min(next_tick, _handler->wake_by_ms());
            uint64_t wait_ms = wake_by > now ? wake_by - now : 0;
            if (!_throttled_prev.empty()) wait_ms = 0;  // throttled readers resume next pass
            __kernel_timespec timeout{};
            timeout.tv_sec = static_cast<long long>(wait_ms / 1000);
            timeout.tv_nsec = static_cast<long long>((wait_ms % 1000) * 1000000);
            io_uring_cqe* cqe = nullptr;
            int rc = io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &timeout, nullptr);
            if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && _wait_errors++ < 10)
                std::fprintf(stderr, "chorusd: io_uring wait failed: %s\n", std::strerror(-rc));
            _handler->after_wake();
            process_completions();
            dispatch_finished();
            now = base::monotonic_ms();
            if (now >= next_tick) {
                next_tick = now + _config.tick_ms;
                expire_lingering(now);
                _conns.trim_send_ops();
                for (int id : _accept_paused)
                    if (_listeners[id] >= 0) arm_accept(id);
                _accept_paused.clear();
                _handler->on_tick();
            }
        }
    }

    void stop() override {
        _stop.store(true, std::memory_order_release);
        wake();
    }

    void wake() override {
        uint64_t one = 1;
        ssize_t written = ::write(_wake_fd, &one, sizeof(one));
        (void)written;  // EAGAIN means a wake is already pending, which is enough
    }

  private:
    io_uring_sqe* get_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
        while (!sqe) {  // the submission queue is full: flush it and try again
            io_uring_submit(&_ring);
            sqe = io_uring_get_sqe(&_ring);
        }
        return sqe;
    }

    void arm_accept(int id) {
        io_uring_sqe* sqe = get_sqe();
        // Non-blocking sockets: a send to a full socket waits on poll inside io_uring instead of
        // parking a kernel worker thread per slow receiver.
        io_uring_prep_multishot_accept(sqe, _listeners[id], nullptr, nullptr,
                                       SOCK_CLOEXEC | SOCK_NONBLOCK);
        io_uring_sqe_set_data64(sqe, pack(op::accept, static_cast<uint32_t>(id), 0));
    }

    void arm_recv(conn_handle conn) {
        conn_slot& slot = _conns.at(conn.index);
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_recv_multishot(sqe, slot.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffer_ring::group;
        io_uring_sqe_set_data64(sqe, pack(op::recv, conn.index, conn.generation));
        slot.recv_armed = true;
        ++slot.ops_in_flight;
    }

    void arm_wake() {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_read(sqe, _wake_fd, &_wake_value, sizeof(_wake_value), 0);
        io_uring_sqe_set_data64(sqe, pack(op::wake, 0, 0));
    }

    void cancel_ops(conn_handle conn, conn_slot* slot) {
        if (slot->ops_in_flight == 0) return;
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_cancel_fd(sqe, slot->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, pack(op::cancel, conn.index, conn.generation));
    }

    // An aborted connection ends with a reset, so the peer cannot mistake a truncated stream
    // for a clean end.
    static void set_reset(int fd) {
        linger reset{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    }

    void begin_close(conn_handle conn, conn_slot* slot) {
        slot->state = conn_state::closing;
        cancel_ops(conn, slot);
        maybe_finish(conn, slot);
    }

    // Frees the slot once every operation on it has completed.
    void maybe_finish(conn_handle conn, conn_slot* slot) {
        if (slot->ops_in_flight != 0) return;
        if (slot->send) {
            _conns.give_send_op(slot->send);
            slot->send = nullptr;
        }
        int fd = slot->fd;
        bool detached = slot->state == conn_state::detaching;
        if (!detached) {
            if (slot->state == conn_state::closing && slot->abort_close) set_reset(fd);
            ::close(fd);
            fd = -1;
        }
        slot->state = conn_state::finished;
        // Reported from the loop, never from inside the owner's own close()/detach() call.
        _finished.push_back({conn, fd});
    }

    void dispatch_finished() {
        for (size_t i = 0; i < _finished.size(); ++i) {
            finished done = _finished[i];
            _conns.release(done.conn.index);
            if (done.fd >= 0) {
                _handler->on_detached(done.conn, done.fd, nullptr);
            } else {
                _handler->on_closed(done.conn);
            }
        }
        _finished.clear();
    }

    void expire_lingering(uint64_t now) {
        if (_conns.live() == 0) return;
        // Lingering closes are rare; a scan bounded by the slab is cheap at tick rate.
        uint32_t now32 = static_cast<uint32_t>(now);
        for (uint32_t i = 0; i < _conns.capacity(); ++i) {
            conn_slot& slot = _conns.at(i);
            if (slot.state != conn_state::lingering) continue;
            if (static_cast<int32_t>(now32 - slot.linger_deadline_ms) >= 0)
                begin_close({i, slot.generation}, &slot);
        }
    }

    void process_completions() {
        unsigned head;
        unsigned count = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&_ring, head, cqe) {
            ++count;
            handle_completion(cqe);
        }
        io_uring_cq_advance(&_ring, count);
        _buffers.publish();
        for (conn_handle conn : _rearm) {
            conn_slot* slot = _conns.find(conn);
            if (slot && !slot->recv_armed &&
                (slot->state == conn_state::open || slot->state == conn_state::lingering))
                arm_recv(conn);
        }
        _rearm.clear();
        // Connections throttled in the previous pass read again; those of this pass wait one.
        for (conn_handle conn : _throttled_prev) {
            conn_slot* slot = _conns.find(conn);
            if (slot && !slot->recv_armed && slot->state == conn_state::open) arm_recv(conn);
        }
        _throttled_prev.swap(_throttled_now);
        _throttled_now.clear();
        for (uint32_t index : _charged) _pass_bytes[index] = 0;
        _charged.clear();
    }

    // Fairness: a connection that delivered more than its budget in one pass has its receive
    // cancelled; the kernel holds the rest (TCP flow control) until the next pass re-arms it.
    void charge(conn_handle conn, uint64_t data, int bytes) {
        uint32_t& used = _pass_bytes[conn.index];
        if (used == UINT32_MAX) return;  // already cancelled this pass
        if (used == 0) _charged.push_back(conn.index);
        used += static_cast<uint32_t>(bytes);
        if (used <= _config.recv_bytes_per_pass_max) return;
        used = UINT32_MAX;
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_cancel64(sqe, data, 0);
        io_uring_sqe_set_data64(sqe, pack(op::cancel, conn.index, conn.generation));
    }

    void handle_completion(io_uring_cqe* cqe) {
        uint64_t data = io_uring_cqe_get_data64(cqe);
        switch (unpack_op(data)) {
            case op::accept:
                on_accept_done(unpack_index(data), cqe);
                break;
            case op::recv:
                on_recv_done(data, cqe);
                break;
            case op::send:
                on_send_done(data, cqe->res);
                break;
            case op::wake:
                arm_wake();
                _handler->on_wake();
                break;
            case op::cancel:
                break;
        }
    }

    void on_accept_done(uint32_t id, io_uring_cqe* cqe) {
        if (id >= _listeners.size() || _listeners[id] < 0) {
            if (cqe->res >= 0) ::close(cqe->res);
            return;
        }
        bool more = cqe->flags & IORING_CQE_F_MORE;
        if (cqe->res == -EMFILE || cqe->res == -ENFILE) {
            if (!refuse_waiting(_listeners[id])) {
                if (!more) _accept_paused.push_back(static_cast<int>(id));
                return;  // re-armed on the next tick, not in a busy loop
            }
        }
        if (!more) arm_accept(static_cast<int>(id));
        if (cqe->res < 0) return;
        int fd = cqe->res;
        if (_conns.live() >= _conns.capacity()) {
            refuse(fd);
            return;
        }
        conn_handle conn = adopt(fd);
        if (conn.valid()) _handler->on_accept(conn, static_cast<int>(id));
    }

    // Out of file descriptors: free the spare one, take the waiting connection, tell it we are
    // overloaded, and take the spare back. The listener keeps working without a busy loop.
    bool refuse_waiting(int listener) {
        return net::refuse_waiting(listener, &_spare_fd, _config.overload_response);
    }

    void refuse(int fd) { refuse_connection(fd, _config.overload_response); }

    void on_recv_done(uint64_t data, io_uring_cqe* cqe) {
        conn_handle conn;
        conn_slot* slot = _conns.find_packed(unpack_index(data), unpack_generation(data), &conn);
        CHORUS_ASSERT(slot != nullptr);  // a slot is never freed with an operation in flight
        bool more = cqe->flags & IORING_CQE_F_MORE;
        uint8_t* bytes = nullptr;
        if (cqe->flags & IORING_CQE_F_BUFFER) {
            uint16_t id = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            bytes = _buffers.data(id);
            _buffers.recycle(id);  // made visible to the kernel after this batch
        }
        if (!more) {
            slot->recv_armed = false;
            --slot->ops_in_flight;
        }
        int res = cqe->res;
        if (slot->state == conn_state::open) {
            if (res > 0) {
                _handler->on_data(conn, {bytes, static_cast<size_t>(res)});
                slot = _conns.find(conn);  // the handler may have closed it
                if (slot && !more && slot->state == conn_state::open) _rearm.push_back(conn);
                if (slot && more && slot->state == conn_state::open) charge(conn, data, res);
            } else if (res == -ENOBUFS) {
                (void)_buffers.grow();  // more buffers from the next publish on
                _rearm.push_back(conn);
            } else if (res == -ECANCELED) {
                _throttled_now.push_back(conn);  // over its budget: reads again next pass
            } else {
                _handler->on_hangup(conn, res);
            }
        } else if (slot->state == conn_state::lingering) {
            // -ECANCELED here is the read budget's cancel (begin_close leaves this state
            // first): a throttled reader's close still drains rather than resetting.
            if (res == -ENOBUFS) (void)_buffers.grow();
            if (res > 0 || res == -ENOBUFS || res == -ECANCELED) {
                if (!more) _rearm.push_back(conn);  // keep draining until the peer closes
            } else {
                begin_close(conn, slot);
            }
        }
        slot = _conns.find(conn);
        if (slot && (slot->state == conn_state::closing || slot->state == conn_state::detaching))
            maybe_finish(conn, slot);
    }

    void on_send_done(uint64_t data, int res) {
        conn_handle conn;
        conn_slot* slot = _conns.find_packed(unpack_index(data), unpack_generation(data), &conn);
        CHORUS_ASSERT(slot != nullptr);
        CHORUS_ASSERT(slot->send != nullptr);
        --slot->ops_in_flight;
        _conns.give_send_op(slot->send);
        slot->send = nullptr;
        conn_state state = slot->state;
        if (state == conn_state::lingering) {
            ::shutdown(slot->fd, SHUT_WR);  // the owner closed: no on_sent, as with epoll
            return;
        }
        if (state == conn_state::closing || state == conn_state::detaching) {
            maybe_finish(conn, slot);
            return;
        }
        _handler->on_sent(conn, res);
    }

    loop_config _config;
    loop_handler* _handler;
    conn_table _conns;
    io_uring _ring{};
    bool _ring_ready = false;
    buffer_ring _buffers;
    std::vector<int> _listeners;
    std::vector<conn_handle> _rearm;
    std::vector<int> _accept_paused;    // listeners waiting for a free descriptor
    std::vector<uint32_t> _pass_bytes;  // per slot: bytes received this pass
    std::vector<uint32_t> _charged;     // slots with _pass_bytes to reset
    std::vector<conn_handle> _throttled_now, _throttled_prev;
    struct finished {
        conn_handle conn;
        int fd;  // >= 0: detached, the socket goes to the owner
    };
    std::vector<finished> _finished;
    int _wake_fd = -1;
    int _spare_fd = -1;
    uint64_t _wake_value = 0;
    std::atomic<bool> _stop{false};
    uint32_t _wait_errors = 0;
};

}  // namespace

std::unique_ptr<event_loop> make_uring_loop(const loop_config& config, loop_handler* handler,
                                            std::string* error) {
    auto loop = std::make_unique<uring_loop>(config, handler);
    if (!loop->init(error)) return nullptr;
    return loop;
}

}  // namespace chorus::net
