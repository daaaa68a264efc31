// The io_uring provided-buffer ring: a fixed set of receive buffers that the kernel picks from
// for multishot receives, so idle connections hold no receive memory. Buffers handed out by a
// completion are given back with recycle() and become visible to the kernel at publish().
// The kernel takes buffers in ring order, so every provided buffer gets used in turn and the
// first page of each becomes resident: the ring starts with `initial` buffers (256 KiB touched)
// and grows, by doubling up to `count`, only when a receive finds it empty (-ENOBUFS).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

namespace chorus::net {

class buffer_ring {
  public:
    static constexpr uint16_t group = 1;
    static constexpr uint32_t count = 512;  // power of two; the kernel touches a page of each
    static constexpr uint32_t initial = 64;
    static constexpr uint32_t bytes = 16 * 1024;
    static_assert(initial > 0 && initial <= count && (count & (count - 1)) == 0);

    buffer_ring() = default;
    ~buffer_ring();
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;

    // Registers the ring with `ring` and provides every buffer.
    bool init(io_uring* ring, std::string* error);
    uint8_t* data(uint16_t id) { return _buffers.get() + size_t(id) * bytes; }
    // Gives buffer `id` back (visible to the kernel after publish()).
    void recycle(uint16_t id);
    // Makes every recycled buffer visible to the kernel, in one store.
    void publish();
    // A receive found the ring empty: provides as many buffers again (up to `count`), visible
    // at the next publish(). False when all are provided already.
    bool grow();
    uint32_t provided() const { return _provided; }

  private:
    io_uring_buf_ring* _ring = nullptr;
    size_t _ring_bytes = 0;
    std::unique_ptr<uint8_t[]> _buffers;
    uint32_t _recycled = 0;
    uint32_t _provided = 0;  // buffers 0.._provided-1 are the kernel's or in use
};

}  // namespace chorus::net
