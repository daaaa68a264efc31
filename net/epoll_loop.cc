// The epoll backend, for hosts where io_uring is disabled (containers often block it). Level-
// triggered readiness with a per-pass read budget per connection (fairness), writev for sends,
// and completions reported from the loop exactly as the io_uring backend reports them.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "net/conn_table.h"
#include "net/loop.h"
#include "net/refusal.h"

namespace chorus::net {
namespace {

enum class tag : uint8_t { listener = 1, conn, wake };

uint64_t pack(tag kind, uint32_t index, uint32_t generation) {
    return (uint64_t(kind) << 56) | (uint64_t(generation & 0xffffff) << 32) | index;
}

constexpr size_t read_buffer_bytes = 64 * 1024;
constexpr int events_max = 256;
constexpr int accepts_per_pass_max = 64;

class epoll_loop final : public event_loop {
  public:
    epoll_loop(const loop_config& config, loop_handler* handler)
        : _config(config), _handler(handler), _conns(config.connections_max) {}

    ~epoll_loop() override {
        for (uint32_t i = 0; i < _conns.capacity(); ++i) {
            conn_slot& slot = _conns.at(i);
            if (slot.state != conn_state::free && slot.fd >= 0) ::close(slot.fd);
        }
        for (int fd : _listeners)
            if (fd >= 0) ::close(fd);
        if (_epoll_fd >= 0) ::close(_epoll_fd);
        if (_wake_fd >= 0) ::close(_wake_fd);
        if (_spare_fd >= 0) ::close(_spare_fd);
    }

    bool init(std::string* error) {
        _epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
        _wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        _spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (_epoll_fd < 0 || _wake_fd < 0) {
            *error = std::string("epoll/eventfd: ") + std::strerror(errno);
            return false;
        }
        _read_buffer.reset(new uint8_t[read_buffer_bytes]);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = pack(tag::wake, 0, 0);
        ::epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, _wake_fd, &event);
        return true;
    }

    backend_kind kind() const override { return backend_kind::epoll; }

    int add_listener(int fd) override {
        int id = static_cast<int>(_listeners.size());
        _listeners.push_back(fd);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = pack(tag::listener, static_cast<uint32_t>(id), 0);
        if (::epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) return -errno;
        return id;
    }

    void close_listeners() override {
        for (int& fd : _listeners) {
            if (fd < 0) continue;
            ::epoll_ctl(_epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
            ::close(fd);
            fd = -1;
        }
    }

    conn_handle adopt(int fd) override {
        conn_handle conn = _conns.allocate(fd);
        if (!conn.valid()) {
            ::close(fd);
            return conn;
        }
        int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        epoll_event event{};
        event.events = EPOLLIN | EPOLLRDHUP;
        event.data.u64 = pack(tag::conn, conn.index, conn.generation);
        ::epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, fd, &event);
        _conns.at(conn.index).recv_armed = true;
        return conn;
    }

    bool send(conn_handle conn, const iovec* iov, int iov_count) override {
        conn_slot* slot = _conns.find(conn);
        if (!slot || slot->state != conn_state::open || slot->send) return false;
        CHORUS_ASSERT(iov_count > 0 && iov_count <= iov_max);
        ssize_t written = ::writev(slot->fd, iov, iov_count);
        if (written >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            // Finished (maybe short) or failed: report it from the loop, like a completion.
            _completed.push_back({conn, written >= 0 ? written : -errno});
            slot->send = _conns.take_send_op(1);
            return true;
        }
        // The socket buffer is full: keep the iovecs and wait until it is writable.
        send_op* request = _conns.take_send_op(iov_count);
        std::memcpy(request->iov(), iov, sizeof(iovec) * iov_count);
        request->iov_count = iov_count;
        slot->send = request;
        watch(conn, slot, true);
        return true;
    }

    void close(conn_handle conn, close_mode mode) override {
        conn_slot* slot = _conns.find(conn);
        if (!slot || slot->state == conn_state::closing || slot->state == conn_state::detaching)
            return;
        if (mode == close_mode::graceful && slot->state == conn_state::lingering) return;
        if (mode == close_mode::graceful && slot->state == conn_state::open) {
            slot->state = conn_state::lingering;
            slot->linger_deadline_ms =
                static_cast<uint32_t>(base::monotonic_ms()) + _config.linger_ms;
            if (!slot->send) ::shutdown(slot->fd, SHUT_WR);
            return;  // reads continue (discarded) until EOF or the linger deadline
        }
        slot->abort_close = mode == close_mode::abort;
        finish(conn, slot, conn_state::closing);
    }

    void detach(conn_handle conn) override {
        conn_slot* slot = _conns.find(conn);
        if (!slot || slot->state != conn_state::open) return;
        CHORUS_ASSERT(slot->send == nullptr);
        finish(conn, slot, conn_state::detaching);
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
        uint64_t next_tick = base::monotonic_ms() + _config.tick_ms;
        epoll_event events[events_max];
        while (!_stop.load(std::memory_order_acquire)) {
            _handler->before_sleep();
            _handler->after_submit();  // sends were written in send()
            // Completions reported here may queue more work (the rest of a short write):
            // then poll without sleeping, so it goes out in the next pass, not a tick later.
            bool progressed = dispatch_completed();
            uint64_t now = base::monotonic_ms();
            uint64_t wake_by = std::min(next_tick, _handler->wake_by_ms());
            int wait_ms = wake_by > now ? static_cast<int>(wake_by - now) : 0;
            if (progressed || !_completed.empty() || !_finished.empty()) wait_ms = 0;
            int count = ::epoll_wait(_epoll_fd, events, events_max, wait_ms);
            _handler->after_wake();
            for (int i = 0; i < count; ++i) handle_event(events[i]);
            dispatch_completed();
            now = base::monotonic_ms();
            if (now >= next_tick) {
                next_tick = now + _config.tick_ms;
                expire_lingering(now);
                _conns.trim_send_ops();
                resume_accepting();
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
        (void)written;
    }

  private:
    struct completion {
        conn_handle conn;
        int64_t result;
    };
    struct finished {
        conn_handle conn;
        int fd;  // >= 0: detached
    };

    void watch(conn_handle conn, conn_slot* slot, bool want_write) {
        if (slot->want_write == want_write) return;
        slot->want_write = want_write;
        epoll_event event{};
        event.events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0u);
        event.data.u64 = pack(tag::conn, conn.index, conn.generation);
        ::epoll_ctl(_epoll_fd, EPOLL_CTL_MOD, slot->fd, &event);
    }

    void finish(conn_handle conn, conn_slot* slot, conn_state how) {
        ::epoll_ctl(_epoll_fd, EPOLL_CTL_DEL, slot->fd, nullptr);
        if (slot->send) {
            _conns.give_send_op(slot->send);
            slot->send = nullptr;
        }
        int fd = slot->fd;
        if (how == conn_state::closing) {
            if (slot->abort_close) {
                linger reset{1, 0};  // a reset: the peer cannot mistake a cut stream for its end
                ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
            }
            ::close(fd);
            fd = -1;
        }
        slot->state = conn_state::finished;  // released when the owner is told
        _finished.push_back({conn, fd});
    }

    // Reports finished sends and closes; true if there was anything to report.
    bool dispatch_completed() {
        bool any = !_completed.empty() || !_finished.empty();
        for (size_t i = 0; i < _completed.size(); ++i) {
            completion done = _completed[i];
            conn_slot* slot = _conns.find(done.conn);
            if (!slot || !slot->send) continue;
            _conns.give_send_op(slot->send);
            slot->send = nullptr;
            if (slot->state == conn_state::lingering) {
                ::shutdown(slot->fd, SHUT_WR);
                continue;
            }
            if (slot->state == conn_state::open) _handler->on_sent(done.conn, done.result);
        }
        _completed.clear();
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
        return any;
    }

    void handle_event(const epoll_event& event) {
        uint64_t data = event.data.u64;
        tag kind = static_cast<tag>(data >> 56);
        uint32_t index = static_cast<uint32_t>(data);
        if (kind == tag::wake) {
            uint64_t value;
            ssize_t got = ::read(_wake_fd, &value, sizeof(value));
            (void)got;
            _handler->on_wake();
            return;
        }
        if (kind == tag::listener) {
            accept_some(static_cast<int>(index));
            return;
        }
        conn_handle conn;
        conn_slot* slot =
            _conns.find_packed(index, static_cast<uint32_t>(data >> 32) & 0xffffff, &conn);
        if (!slot) return;
        if ((event.events & EPOLLOUT) && slot->send && slot->send->iov_count > 0) retry_send(conn);
        slot = _conns.find(conn);
        if (slot && (event.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            read_some(conn, slot);
    }

    void retry_send(conn_handle conn) {
        conn_slot* slot = _conns.find(conn);
        send_op* request = slot->send;
        ssize_t written = ::writev(slot->fd, request->iov(), request->iov_count);
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        request->iov_count = 0;
        watch(conn, slot, false);
        _completed.push_back({conn, written >= 0 ? written : -errno});
    }

    void read_some(conn_handle conn, conn_slot* slot) {
        size_t budget = _config.recv_bytes_per_pass_max;
        while (budget > 0) {
            ssize_t got = ::recv(slot->fd, _read_buffer.get(), read_buffer_bytes, 0);
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            if (got < 0 && errno == EINTR) continue;
            if (slot->state == conn_state::lingering) {
                if (got <= 0) {
                    finish(conn, slot, conn_state::closing);
                    return;
                }
                budget -= std::min(budget, static_cast<size_t>(got));
                continue;  // discard what arrives while closing, within the pass budget
            }
            if (got <= 0) {
                _handler->on_hangup(conn, got == 0 ? 0 : -errno);
                return;
            }
            _handler->on_data(conn, {_read_buffer.get(), static_cast<size_t>(got)});
            slot = _conns.find(conn);
            if (!slot || slot->state != conn_state::open) return;
            if (static_cast<size_t>(got) < read_buffer_bytes) return;  // drained
            budget -= std::min(budget, static_cast<size_t>(got));
        }
        // Budget spent: level-triggered epoll reports the rest on the next pass.
    }

    void resume_accepting() {
        for (int id : _accept_paused) {
            if (_listeners[id] < 0) continue;
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.u64 = pack(tag::listener, static_cast<uint32_t>(id), 0);
            ::epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, _listeners[id], &event);
        }
        _accept_paused.clear();
    }

    void accept_some(int id) {
        for (int i = 0; i < accepts_per_pass_max; ++i) {
            int fd = ::accept4(_listeners[id], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if ((errno == EMFILE || errno == ENFILE) && !refuse_waiting(_listeners[id])) {
                    // No spare descriptor: stop watching the (level-triggered) listener until
                    // the next tick instead of spinning on it.
                    ::epoll_ctl(_epoll_fd, EPOLL_CTL_DEL, _listeners[id], nullptr);
                    _accept_paused.push_back(id);
                }
                return;
            }
            if (_conns.live() >= _conns.capacity()) {
                refuse(fd);
                continue;
            }
            conn_handle conn = adopt(fd);
            if (conn.valid()) _handler->on_accept(conn, id);
        }
    }

    bool refuse_waiting(int listener) {
        return net::refuse_waiting(listener, &_spare_fd, _config.overload_response);
    }

    void refuse(int fd) { refuse_connection(fd, _config.overload_response); }

    void expire_lingering(uint64_t now) {
        uint32_t now32 = static_cast<uint32_t>(now);
        for (uint32_t i = 0; i < _conns.capacity() && _conns.live() > 0; ++i) {
            conn_slot& slot = _conns.at(i);
            if (slot.state != conn_state::lingering) continue;
            if (static_cast<int32_t>(now32 - slot.linger_deadline_ms) >= 0)
                finish({i, slot.generation}, &slot, conn_state::closing);
        }
    }

    loop_config _config;
    loop_handler* _handler;
    conn_table _conns;
    int _epoll_fd = -1;
    int _wake_fd = -1;
    int _spare_fd = -1;
    std::unique_ptr<uint8_t[]> _read_buffer;
    std::vector<int> _listeners;
    std::vector<completion> _completed;
    std::vector<int> _accept_paused;  // listeners waiting for a free descriptor
    std::vector<finished> _finished;
    std::atomic<bool> _stop{false};
};

}  // namespace

std::unique_ptr<event_loop> make_epoll_loop(const loop_config& config, loop_handler* handler,
                                            std::string* error) {
    auto loop = std::make_unique<epoll_loop>(config, handler);
    if (!loop->init(error)) return nullptr;
    return loop;
}

}  // namespace chorus::net
