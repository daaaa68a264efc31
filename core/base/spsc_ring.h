// Bounded single-producer single-consumer ring: the building block of the cross-core message grid.
// Wait-free on both sides; each side keeps a private copy of the other's index so that it only
// touches the other side's cache line when its copy says the ring looks full (or empty).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>

namespace chorus::base {

inline constexpr size_t cache_line_bytes = 64;

// Exactly one thread may call the producer functions and exactly one (other) thread the consumer
// functions for the life of the ring. The ring owns copies of the items; a popped item is a copy.
template <typename T, size_t Capacity>
class spsc_ring {
    static_assert(Capacity >= 2, "spsc_ring needs room for at least two items");
    static_assert((Capacity & (Capacity - 1)) == 0, "spsc_ring capacity must be a power of two");
    static_assert(std::is_trivially_copyable_v<T>, "spsc_ring items are copied with memcpy");

  public:
    spsc_ring() = default;
    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    static constexpr size_t capacity() { return Capacity; }

    // Producer: false when the ring is full (the item is not stored).
    bool try_push(const T& item) {
        size_t tail = _producer.tail.load(std::memory_order_relaxed);
        if (tail - _producer.head_cache == Capacity) {
            _producer.head_cache = _consumer.head.load(std::memory_order_acquire);
            if (tail - _producer.head_cache == Capacity) return false;
        }
        std::memcpy(static_cast<void*>(&_slots[tail & mask]), &item, sizeof(T));
        _producer.tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Producer: stores as many of items[0..n) as fit, in order, and publishes them with a single
    // release store. Returns how many were stored.
    size_t push_batch(const T* items, size_t n) {
        size_t tail = _producer.tail.load(std::memory_order_relaxed);
        size_t free_slots = Capacity - (tail - _producer.head_cache);
        if (free_slots < n) {
            _producer.head_cache = _consumer.head.load(std::memory_order_acquire);
            free_slots = Capacity - (tail - _producer.head_cache);
        }
        size_t count = n < free_slots ? n : free_slots;
        if (count == 0) return 0;
        size_t start = tail & mask;
        size_t first = Capacity - start < count ? Capacity - start : count;
        std::memcpy(static_cast<void*>(&_slots[start]), items, first * sizeof(T));
        if (count > first) {
            std::memcpy(static_cast<void*>(&_slots[0]), items + first, (count - first) * sizeof(T));
        }
        _producer.tail.store(tail + count, std::memory_order_release);
        return count;
    }

    // Consumer: false when the ring is empty.
    bool try_pop(T& item) {
        size_t head = _consumer.head.load(std::memory_order_relaxed);
        if (head == _consumer.tail_cache) {
            _consumer.tail_cache = _producer.tail.load(std::memory_order_acquire);
            if (head == _consumer.tail_cache) return false;
        }
        std::memcpy(static_cast<void*>(&item), &_slots[head & mask], sizeof(T));
        _consumer.head.store(head + 1, std::memory_order_release);
        return true;
    }

    // Consumer: calls f(const T&) on up to max items in FIFO order, then frees their slots with a
    // single release store. The reference is valid only during the call. Returns the count.
    template <typename F>
    size_t consume(F&& f, size_t max) {
        size_t head = _consumer.head.load(std::memory_order_relaxed);
        size_t available = _consumer.tail_cache - head;
        if (available < max) {
            _consumer.tail_cache = _producer.tail.load(std::memory_order_acquire);
            available = _consumer.tail_cache - head;
        }
        size_t count = available < max ? available : max;
        for (size_t i = 0; i < count; i++) {
            const T& item = _slots[(head + i) & mask];
            f(item);
        }
        if (count != 0) _consumer.head.store(head + count, std::memory_order_release);
        return count;
    }

    // Either thread: a snapshot that may be stale by the time it is read; never above Capacity.
    size_t size_approx() const {
        size_t head = _consumer.head.load(std::memory_order_acquire);
        size_t tail = _producer.tail.load(std::memory_order_acquire);
        size_t size = tail - head;
        return size > Capacity ? Capacity : size;
    }

  private:
    static constexpr size_t mask = Capacity - 1;

    // Written by the producer; the consumer only reads tail.
    struct alignas(cache_line_bytes) producer_side {
        std::atomic<size_t> tail{0};
        size_t head_cache = 0;
    };
    // Written by the consumer; the producer only reads head.
    struct alignas(cache_line_bytes) consumer_side {
        std::atomic<size_t> head{0};
        size_t tail_cache = 0;
    };

    producer_side _producer;
    consumer_side _consumer;
    alignas(cache_line_bytes) T _slots[Capacity];
};

}  // namespace chorus::base
