// A connection's outbound queue: references to shared frames in send order, plus how much of the
// first one has been written. The shard decides what may enter (audio only below the soft limit,
// control up to the hard limit); the queue itself only keeps order and counts bytes.
#pragma once

#include <sys/uio.h>

#include <cstdint>

#include "core/frame_pool.h"

namespace chorus::core {

class outbound_queue {
  public:
    outbound_queue() = default;
    ~outbound_queue() {
        CHORUS_ASSERT(_count == 0);
        delete[] _items;
    }
    outbound_queue(const outbound_queue&) = delete;
    outbound_queue& operator=(const outbound_queue&) = delete;

    // Appends a reference (retained here).
    void push(frame_pool& pool, shared_frame* frame) {
        if (_count == _capacity) grow();
        _items[(_head + _count) & (_capacity - 1)] = frame;
        ++_count;
        _bytes += frame->size;
        pool.retain(frame);
    }
    // Describes up to `max` queued frames, oldest first; returns how many iovecs were filled.
    int fill(iovec* iov, int max) const {
        int n = 0;
        for (uint32_t i = 0; i < _count && n < max; ++i) {
            shared_frame* frame = _items[(_head + i) & (_capacity - 1)];
            uint32_t skip = i == 0 ? _head_offset : 0;
            iov[n].iov_base = frame->data() + skip;
            iov[n].iov_len = frame->size - skip;
            ++n;
        }
        return n;
    }
    // `written` bytes left the queue: drops the frames that are complete.
    void consume(frame_pool& pool, uint64_t written) {
        _bytes -= written;
        while (written > 0) {
            CHORUS_ASSERT(_count > 0);
            shared_frame* frame = _items[_head];
            uint32_t left = frame->size - _head_offset;
            if (written < left) {
                _head_offset += static_cast<uint32_t>(written);
                return;
            }
            written -= left;
            pop(pool);
        }
    }
    void clear(frame_pool& pool) {
        while (_count > 0) pop(pool);
        _bytes = 0;
        delete[] _items;
        _items = nullptr;
        _capacity = 0;
    }
    // Frees the array of an empty queue (idle connections hold no queue memory).
    void shrink() {
        if (_count != 0 || _capacity == 0) return;
        delete[] _items;
        _items = nullptr;
        _capacity = 0;
        _head = 0;
    }
    bool empty() const { return _count == 0; }
    uint64_t bytes() const { return _bytes; }
    uint32_t frames() const { return _count; }

  private:
    void pop(frame_pool& pool) {
        pool.release(_items[_head]);
        _head = (_head + 1) & (_capacity - 1);
        _head_offset = 0;
        --_count;
    }
    void grow() {
        uint32_t capacity = _capacity ? _capacity * 2 : 8;
        auto** items = new shared_frame*[capacity];
        for (uint32_t i = 0; i < _count; ++i) items[i] = _items[(_head + i) & (_capacity - 1)];
        delete[] _items;
        _items = items;
        _capacity = capacity;
        _head = 0;
    }

    shared_frame** _items = nullptr;
    uint64_t _bytes = 0;
    uint32_t _head = 0;
    uint32_t _count = 0;
    uint32_t _capacity = 0;
    uint32_t _head_offset = 0;
};

// Every session holds one; an idle connection's has no array (shrink).
static_assert(sizeof(outbound_queue) <= 32, "a queue per connection slot: keep it small");

}  // namespace chorus::core
