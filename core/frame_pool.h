// Reference-counted frame buffers: a frame bound for many connections is encoded once and every
// recipient's queue holds a reference. Buffers come from per-shard free lists by size class, so
// after warm-up the audio path allocates nothing. Single-threaded: a pool belongs to one shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/base/assert.h"

namespace chorus::core {

struct shared_frame {
    uint32_t refs;
    uint32_t size;      // bytes used
    uint32_t capacity;  // bytes available after the header
    uint8_t size_class;
    shared_frame* next_free;
    uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
    const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(this + 1); }
};

class frame_pool {
  public:
    frame_pool() = default;
    ~frame_pool();
    frame_pool(const frame_pool&) = delete;
    frame_pool& operator=(const frame_pool&) = delete;

    // A buffer of at least `bytes` with one reference held by the caller; size is 0.
    shared_frame* allocate(size_t bytes);
    void retain(shared_frame* frame) { ++frame->refs; }
    void release(shared_frame* frame) {
        CHORUS_ASSERT(frame->refs > 0);
        if (--frame->refs == 0) recycle(frame);
    }
    // Gives back to the heap part of each free list beyond its reserve (a byte budget per size
    // class), so that memory taken by a burst returns over a few calls, and all of the free list
    // of a class that nothing allocated from during the last `idle_trims_to_empty` calls: an
    // idle server keeps no buffers (a burst of joins leaves welcome frames behind). Called once a
    // second.
    void trim();
    // Heap allocations made so far: a test hook proving the audio path reuses buffers.
    uint64_t heap_allocations() const { return _heap_allocations; }
    uint64_t frames_live() const { return _live; }

  private:
    // 128 holds a typical audio frame (120-byte payload) and a joined event; 17408 a 16 KiB
    // message with its header.
    static constexpr int class_count = 6;
    static constexpr uint32_t class_bytes[class_count] = {128, 256, 1024, 4096, 17408, 66560};
    static constexpr uint32_t free_max_per_class = 16384;
    static constexpr uint64_t reserve_bytes_per_class = 1 << 20;
    static constexpr uint8_t idle_trims_to_empty = 3;
    void recycle(shared_frame* frame);

    shared_frame* _free[class_count] = {};
    uint32_t _free_count[class_count] = {};
    bool _used_since_trim[class_count] = {};
    uint8_t _idle_trims[class_count] = {};  // trims in a row that found the class unused
    uint64_t _heap_allocations = 0;
    uint64_t _live = 0;
};

// A WebSocket text frame carrying `payload`, with one reference for the caller.
shared_frame* make_text_frame(frame_pool& pool, std::string_view payload);

}  // namespace chorus::core
