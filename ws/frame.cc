// RFC 6455 frame encoding and the masking loop shared by the encoder and the reader. Masking is
// the hot byte loop of the server (every incoming byte goes through it), so it runs 64 bytes a
// step with GCC/Clang vector extensions, which lower to SSE2/NEON without intrinsics (AVX2 clones
// measured no faster: the loop is bound by L1 loads and stores). Copy and mask are fused.
#include "ws/frame.h"

#include <algorithm>
#include <cstring>

namespace chorus::ws {
namespace {

typedef uint64_t words2 __attribute__((vector_size(16)));

}  // namespace

size_t frame_header_size(uint64_t payload_bytes, bool masked) {
    size_t size = 2;
    if (payload_bytes > 0xFFFF) {
        size += 8;
    } else if (payload_bytes >= 126) {
        size += 2;
    }
    return size + (masked ? 4 : 0);
}

size_t encode_frame_header(uint8_t* out, opcode op, uint64_t payload_bytes, bool fin,
                           const uint8_t* mask_key) {
    out[0] = static_cast<uint8_t>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(op));
    const uint8_t mask_bit = mask_key != nullptr ? 0x80 : 0x00;
    size_t size = 2;
    if (payload_bytes < 126) {
        out[1] = static_cast<uint8_t>(mask_bit | payload_bytes);
    } else if (payload_bytes <= 0xFFFF) {
        out[1] = mask_bit | 126;
        out[2] = static_cast<uint8_t>(payload_bytes >> 8);
        out[3] = static_cast<uint8_t>(payload_bytes);
        size = 4;
    } else {
        out[1] = mask_bit | 127;
        for (int i = 0; i < 8; ++i) {
            out[2 + i] = static_cast<uint8_t>(payload_bytes >> (56 - 8 * i));
        }
        size = 10;
    }
    if (mask_key != nullptr) {
        std::memcpy(out + size, mask_key, 4);
        size += 4;
    }
    return size;
}

namespace {

// dst[i] = src[i] ^ key bytes, 64 bytes a step in four independent 16-byte lanes (about twice a
// single lane). dst may equal src. With a zero key this is a plain copy that, unlike glibc's
// memcpy on some CPUs (rep movsb), keeps full speed when dst sits a few bytes past src modulo
// 4 KiB, which is exactly where a payload lands behind a frame header.
void xor_copy(uint8_t* dst, const uint8_t* src, size_t size, const uint8_t rotated[4]) {
    uint32_t key32;
    std::memcpy(&key32, rotated, 4);
    const uint64_t key64 = (uint64_t{key32} << 32) | key32;
    const words2 wide_key = {key64, key64};
    size_t i = 0;
    for (; i + 64 <= size; i += 64) {
        words2 a, b, c, d;
        std::memcpy(&a, src + i, 16);
        std::memcpy(&b, src + i + 16, 16);
        std::memcpy(&c, src + i + 32, 16);
        std::memcpy(&d, src + i + 48, 16);
        a ^= wide_key;
        b ^= wide_key;
        c ^= wide_key;
        d ^= wide_key;
        std::memcpy(dst + i, &a, 16);
        std::memcpy(dst + i + 16, &b, 16);
        std::memcpy(dst + i + 32, &c, 16);
        std::memcpy(dst + i + 48, &d, 16);
    }
    for (; i + 16 <= size; i += 16) {
        words2 a;
        std::memcpy(&a, src + i, 16);
        a ^= wide_key;
        std::memcpy(dst + i, &a, 16);
    }
    for (; i + 8 <= size; i += 8) {
        uint64_t word;
        std::memcpy(&word, src + i, 8);
        word ^= key64;
        std::memcpy(dst + i, &word, 8);
    }
    // i is a multiple of 8 here, so the key phase is unchanged.
    for (; i < size; ++i) dst[i] = src[i] ^ rotated[i & 3];
}

void rotate_key(const uint8_t key[4], size_t key_offset, uint8_t rotated[4]) {
    for (size_t i = 0; i < 4; ++i) rotated[i] = key[(key_offset + i) & 3];
}

}  // namespace

void apply_mask(uint8_t* data, size_t size, const uint8_t key[4], size_t key_offset) {
    uint8_t rotated[4];
    rotate_key(key, key_offset, rotated);
    xor_copy(data, data, size, rotated);
}

void copy_payload(uint8_t* dst, const uint8_t* src, size_t size, const uint8_t* mask_key,
                  size_t key_offset) {
    uint8_t rotated[4] = {};
    if (mask_key != nullptr) {
        rotate_key(mask_key, key_offset, rotated);
    } else if (size < 1024) {
        if (size > 0) std::memcpy(dst, src, size);  // small: memcpy is fastest and unaffected
        return;
    }
    xor_copy(dst, src, size, rotated);
}

bool valid_close_code(uint16_t code) {
    if (code >= 1000 && code <= 1003) return true;
    if (code >= 1007 && code <= 1014) return true;
    return code >= 3000 && code <= 4999;
}

void append_frame(std::string& out, opcode op, std::string_view payload, bool fin,
                  const uint8_t* mask_key) {
    uint8_t header[frame_header_bytes_max];
    const size_t header_size = encode_frame_header(header, op, payload.size(), fin, mask_key);
    const size_t start = out.size();
    out.resize(start + header_size + payload.size());
    auto* dest = reinterpret_cast<uint8_t*>(out.data() + start);
    std::memcpy(dest, header, header_size);
    copy_payload(dest + header_size, reinterpret_cast<const uint8_t*>(payload.data()),
                 payload.size(), mask_key);
}

void append_close_frame(std::string& out, uint16_t code, std::string_view reason,
                        const uint8_t* mask_key) {
    if (code == 0) {
        append_frame(out, opcode::close, {}, true, mask_key);
        return;
    }
    size_t reason_size = std::min(reason.size(), control_payload_bytes_max - 2);
    // Back up over UTF-8 continuation bytes so the cut never splits a character.
    if (reason_size < reason.size()) {
        while (reason_size > 0 && (static_cast<uint8_t>(reason[reason_size]) & 0xC0) == 0x80) {
            --reason_size;
        }
    }
    char payload[control_payload_bytes_max];
    payload[0] = static_cast<char>(code >> 8);
    payload[1] = static_cast<char>(code & 0xFF);
    if (reason_size > 0) std::memcpy(payload + 2, reason.data(), reason_size);
    append_frame(out, opcode::close, std::string_view(payload, reason_size + 2), true, mask_key);
}

}  // namespace chorus::ws
