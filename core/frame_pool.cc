// Size-class free lists behind frame_pool. Buffers larger than the biggest class (echo messages
// up to 16 MiB) go straight to the heap and back.
#include "core/frame_pool.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "ws/frame.h"

namespace chorus::core {

frame_pool::~frame_pool() {
    for (int c = 0; c < class_count; ++c) {
        while (_free[c]) {
            shared_frame* next = _free[c]->next_free;
            std::free(_free[c]);
            _free[c] = next;
        }
    }
}

shared_frame* frame_pool::allocate(size_t bytes) {
    int size_class = 0;
    while (size_class < class_count && class_bytes[size_class] < bytes) ++size_class;
    shared_frame* frame = nullptr;
    if (size_class < class_count) _used_since_trim[size_class] = true;
    if (size_class < class_count && _free[size_class]) {
        frame = _free[size_class];
        _free[size_class] = frame->next_free;
        --_free_count[size_class];
    } else {
        size_t capacity = size_class < class_count ? class_bytes[size_class] : bytes;
        void* memory = std::malloc(sizeof(shared_frame) + capacity);
        if (!memory) throw std::bad_alloc();  // out of memory is not survivable here
        ++_heap_allocations;
        frame = static_cast<shared_frame*>(memory);
        frame->capacity = static_cast<uint32_t>(capacity);
        frame->size_class = static_cast<uint8_t>(size_class);
    }
    frame->refs = 1;
    frame->size = 0;
    frame->next_free = nullptr;
    ++_live;
    return frame;
}

void frame_pool::trim() {
    for (int c = 0; c < class_count; ++c) {
        if (_used_since_trim[c]) {
            _idle_trims[c] = 0;
        } else if (_idle_trims[c] < idle_trims_to_empty) {
            ++_idle_trims[c];
        }
        _used_since_trim[c] = false;
        bool idle = _idle_trims[c] == idle_trims_to_empty;
        uint32_t reserve =
            idle ? 0 : static_cast<uint32_t>(reserve_bytes_per_class / class_bytes[c]);
        if (_free_count[c] <= reserve) continue;
        uint32_t release = idle ? _free_count[c] : (_free_count[c] - reserve + 1) / 2;
        for (uint32_t i = 0; i < release; ++i) {
            shared_frame* frame = _free[c];
            _free[c] = frame->next_free;
            std::free(frame);
        }
        _free_count[c] -= release;
    }
}

void frame_pool::recycle(shared_frame* frame) {
    --_live;
    int size_class = frame->size_class;
    if (size_class >= class_count || _free_count[size_class] >= free_max_per_class) {
        std::free(frame);
        return;
    }
    frame->next_free = _free[size_class];
    _free[size_class] = frame;
    ++_free_count[size_class];
}

shared_frame* make_text_frame(frame_pool& pool, std::string_view payload) {
    shared_frame* frame = pool.allocate(payload.size() + ws::frame_header_bytes_max);
    size_t header = ws::encode_frame_header(frame->data(), ws::opcode::text, payload.size());
    std::memcpy(frame->data() + header, payload.data(), payload.size());
    frame->size = static_cast<uint32_t>(header + payload.size());
    return frame;
}

}  // namespace chorus::core
