// The per-loop connection slab shared by both backends: fixed capacity, {index, generation}
// handles, a free stack, and the small per-connection state a backend needs. Allocated once at
// start-up; nothing here grows while the loop runs.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "core/base/assert.h"
#include "net/loop.h"

namespace chorus::net {

// finished: closed or detached, the owner not yet told; the slot is not reused before that.
enum class conn_state : uint8_t { free, open, lingering, closing, detaching, finished };

// Storage for one send in flight, sized for its iovec count (2, 8, 64 or 1024). Only connections
// that are sending hold one, so idle connections cost no iovec memory, and the many small sends of
// a quiet room do not each pin a kilobyte.
struct send_op {
    msghdr message{};
    send_op* next_free = nullptr;
    int iov_count = 0;
    int size_class = 0;
    iovec* iov() { return reinterpret_cast<iovec*>(this + 1); }
};
constexpr int send_op_classes = 4;
constexpr int send_op_iovs[send_op_classes] = {2, 8, 64, event_loop::iov_max};

struct conn_slot {
    int fd = -1;
    uint32_t generation = 0;
    conn_state state = conn_state::free;
    uint8_t ops_in_flight = 0;  // io_uring: recv + send + cancel
    bool recv_armed = false;
    bool want_write = false;   // epoll: EPOLLOUT registered
    bool abort_close = false;  // close with a reset
    uint32_t linger_deadline_ms = 0;
    send_op* send = nullptr;
};
static_assert(sizeof(conn_slot) <= 32, "conn_slot lives in every connection; keep it small");

class conn_table {
  public:
    explicit conn_table(uint32_t capacity) : _slots(capacity) {
        _free.reserve(capacity);
        for (uint32_t i = capacity; i > 0; --i) _free.push_back(i - 1);
    }
    ~conn_table() {
        for (int c = 0; c < send_op_classes; ++c) trim_send_ops(c, 0);
    }

    // Returns an invalid handle when full.
    conn_handle allocate(int fd) {
        if (_free.empty()) return {};
        uint32_t index = _free.back();
        _free.pop_back();
        conn_slot& slot = _slots[index];
        CHORUS_ASSERT(slot.state == conn_state::free);
        slot.generation = next_generation(slot.generation);
        slot.fd = fd;
        slot.state = conn_state::open;
        slot.ops_in_flight = 0;
        slot.recv_armed = false;
        slot.want_write = false;
        slot.abort_close = false;
        slot.send = nullptr;
        ++_live;
        return {index, slot.generation};
    }
    void release(uint32_t index) {
        conn_slot& slot = _slots[index];
        CHORUS_ASSERT(slot.state != conn_state::free);
        CHORUS_ASSERT(slot.send == nullptr);
        slot.state = conn_state::free;
        slot.fd = -1;
        _free.push_back(index);
        --_live;
    }
    // nullptr for a stale or free handle.
    conn_slot* find(conn_handle conn) {
        if (conn.index >= _slots.size()) return nullptr;
        conn_slot& slot = _slots[conn.index];
        if (slot.state == conn_state::free || slot.state == conn_state::finished ||
            slot.generation != conn.generation)
            return nullptr;
        return &slot;
    }
    // Matches a handle whose generation was truncated to 24 bits (io_uring user_data).
    conn_slot* find_packed(uint32_t index, uint32_t generation24, conn_handle* out) {
        if (index >= _slots.size()) return nullptr;
        conn_slot& slot = _slots[index];
        if (slot.state == conn_state::free || slot.state == conn_state::finished ||
            (slot.generation & 0xffffff) != generation24)
            return nullptr;
        *out = {index, slot.generation};
        return &slot;
    }
    conn_slot& at(uint32_t index) { return _slots[index]; }
    uint32_t capacity() const { return static_cast<uint32_t>(_slots.size()); }
    uint32_t live() const { return _live; }

    // A send_op with room for `iov_count` iovecs.
    send_op* take_send_op(int iov_count) {
        int c = 0;
        while (send_op_iovs[c] < iov_count) ++c;
        send_op* op = _free_sends[c];
        if (op) {
            _free_sends[c] = op->next_free;
            --_free_send_count[c];
        } else {
            void* memory = ::operator new(sizeof(send_op) + sizeof(iovec) * send_op_iovs[c]);
            op = new (memory) send_op();
            op->size_class = c;
        }
        op->next_free = nullptr;
        op->iov_count = 0;
        return op;
    }
    void give_send_op(send_op* op) {
        int c = op->size_class;
        op->next_free = _free_sends[c];
        _free_sends[c] = op;
        ++_free_send_count[c];
    }
    // Frees spare send_ops beyond a reserve (after a burst of many concurrent sends).
    void trim_send_ops(int c, uint32_t keep) {
        while (_free_send_count[c] > keep) {
            send_op* op = _free_sends[c];
            _free_sends[c] = op->next_free;
            --_free_send_count[c];
            op->~send_op();
            ::operator delete(op);
        }
    }
    void trim_send_ops() {
        for (int c = 0; c < send_op_classes; ++c)
            trim_send_ops(c, _free_send_count[c] > 64 ? _free_send_count[c] / 2 + 32 : 64);
    }

  private:
    static uint32_t next_generation(uint32_t generation) {
        uint32_t next = (generation + 1) & 0xffffff;  // 24 bits survive in io_uring user_data
        return next == 0 ? 1 : next;
    }
    std::vector<conn_slot> _slots;
    std::vector<uint32_t> _free;
    send_op* _free_sends[send_op_classes] = {};
    uint32_t _free_send_count[send_op_classes] = {};
    uint32_t _live = 0;
};

}  // namespace chorus::net
