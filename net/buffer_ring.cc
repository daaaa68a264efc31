// Provided-buffer ring registration and recycling (liburing 2.3 API).
#include "net/buffer_ring.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace chorus::net {

buffer_ring::~buffer_ring() {
    if (_ring) munmap(_ring, _ring_bytes);
}

bool buffer_ring::init(io_uring* ring, std::string* error) {
    _ring_bytes = count * sizeof(io_uring_buf);
    void* memory =
        mmap(nullptr, _ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) {
        *error = "mmap of the buffer ring failed";
        return false;
    }
    _ring = static_cast<io_uring_buf_ring*>(memory);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<unsigned long>(_ring);
    reg.ring_entries = count;
    reg.bgid = group;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc != 0) {
        *error = std::string("io_uring_register_buf_ring: ") + std::strerror(-rc);
        return false;
    }
    _buffers.reset(new uint8_t[size_t(count) * bytes]);  // pages untouched until received into
    io_uring_buf_ring_init(_ring);
    for (uint32_t i = 0; i < initial; ++i) recycle(static_cast<uint16_t>(i));
    _provided = initial;
    publish();
    return true;
}

bool buffer_ring::grow() {
    if (_provided == count) return false;
    uint32_t target = std::min(count, _provided * 2);
    for (uint32_t i = _provided; i < target; ++i) recycle(static_cast<uint16_t>(i));
    _provided = target;
    return true;
}

void buffer_ring::recycle(uint16_t id) {
    io_uring_buf_ring_add(_ring, data(id), bytes, id, io_uring_buf_ring_mask(count),
                          static_cast<int>(_recycled));
    ++_recycled;
}

void buffer_ring::publish() {
    if (_recycled == 0) return;
    io_uring_buf_ring_advance(_ring, static_cast<int>(_recycled));
    _recycled = 0;
}

}  // namespace chorus::net
