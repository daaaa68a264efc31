// Audio payload stamps: little-endian fixed fields (sender and receiver share the machine, but a
// fixed byte order keeps the format readable in captures), then a filler pattern.
#include "bench/chorus_bench/payload.h"

#include <cstring>

namespace chorus::bench {
namespace {

void put32(uint8_t* out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t* out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{in[i]} << (8 * i);
    return v;
}
uint64_t get64(const uint8_t* in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{in[i]} << (8 * i);
    return v;
}

}  // namespace

void write_stamp(uint8_t* out, size_t size, const audio_stamp& stamp) {
    put32(out, stamp.room);
    put32(out + 4, stamp.speaker);
    put64(out + 8, stamp.seq);
    put64(out + 16, stamp.send_ns);
    if (size > stamp_bytes) std::memset(out + stamp_bytes, 0x5a, size - stamp_bytes);
}

bool read_stamp(std::span<const uint8_t> payload, audio_stamp* out) {
    if (payload.size() < stamp_bytes) return false;
    const uint8_t* in = payload.data();
    out->room = get32(in);
    out->speaker = get32(in + 4);
    out->seq = get64(in + 8);
    out->send_ns = get64(in + 16);
    return true;
}

}  // namespace chorus::bench
