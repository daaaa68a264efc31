// The bench's audio payload and the receiver-side checks on it. Each frame carries its room, the
// sender's slot in the room, the sender's sequence number and the send time (CLOCK_MONOTONIC ns,
// valid because bench and server share the machine), so every receiver can check sender, order,
// duplicates and latency without any shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace chorus::bench {

struct audio_stamp {
    uint32_t room = 0;
    uint32_t speaker = 0;  // the sender's speaker slot within its room
    uint64_t seq = 0;      // per sender, from 0
    uint64_t send_ns = 0;
};

constexpr size_t stamp_bytes = 24;

// Writes the stamp then a filler pattern into out[0..size); size >= stamp_bytes.
void write_stamp(uint8_t* out, size_t size, const audio_stamp& stamp);
// False if the payload is too short to hold a stamp.
bool read_stamp(std::span<const uint8_t> payload, audio_stamp* out);

// Order check for one (receiver, sender) pair: in-order frames advance; a frame older than the
// newest seen is a reorder or duplicate; a jump forward leaves a gap (lost unless it arrives late,
// which then shows as a reorder).
struct sequence_check {
    uint64_t next = 0;  // the sequence number expected next

    enum class verdict { in_order, gap, reordered };
    verdict observe(uint64_t seq, uint64_t* skipped) {
        *skipped = 0;
        if (seq == next) {
            ++next;
            return verdict::in_order;
        }
        if (seq > next) {
            *skipped = seq - next;
            next = seq + 1;
            return verdict::gap;
        }
        return verdict::reordered;
    }
};

}  // namespace chorus::bench
