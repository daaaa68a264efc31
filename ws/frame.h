// RFC 6455 frame encoding: headers, payload masking and close frames. Pure functions over caller
// buffers; the decoding side (validation, reassembly) is message_reader.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::ws {

enum class opcode : uint8_t {
    continuation = 0,
    text = 1,
    binary = 2,
    close = 8,
    ping = 9,
    pong = 10
};

// server: incoming frames MUST be masked; client: incoming frames MUST NOT be masked.
enum class role { server, client };

constexpr size_t frame_header_bytes_max = 14;      // 2 + 8 (64-bit length) + 4 (mask key)
constexpr size_t control_payload_bytes_max = 125;  // RFC 6455 5.5

constexpr bool is_control(opcode op) {
    return (static_cast<uint8_t>(op) & 0x08) != 0;
}

// Size of the header that encode_frame_header writes for this payload length.
size_t frame_header_size(uint64_t payload_bytes, bool masked);

// Writes a frame header with the minimal length encoding into out[0..frame_header_bytes_max) and
// returns its length. mask_key (4 bytes) sets the MASK bit and is copied into the header; the
// caller masks the payload itself (apply_mask).
size_t encode_frame_header(uint8_t* out, opcode op, uint64_t payload_bytes, bool fin = true,
                           const uint8_t* mask_key = nullptr);

// XORs data[i] with key[(key_offset + i) % 4]: key_offset is the payload position of data[0], so a
// payload can be unmasked in pieces. Byte-exact for any alignment and size.
void apply_mask(uint8_t* data, size_t size, const uint8_t key[4], size_t key_offset = 0);

// Copies size payload bytes from src to dst (non-overlapping), masking them on the way when
// mask_key is set (key_offset as for apply_mask): one pass instead of memcpy + apply_mask. Use it
// to place payloads behind frame headers: large copies avoid a glibc memcpy slowdown (up to 15x,
// measured) when dst is a few bytes past src modulo 4 KiB.
void copy_payload(uint8_t* dst, const uint8_t* src, size_t size, const uint8_t* mask_key = nullptr,
                  size_t key_offset = 0);

// True for the close codes a peer may send (RFC 6455 7.4 and the IANA registry): 1000-1003,
// 1007-1014, 3000-4999. Never 1004-1006 or 1015 (reserved, must not be sent), nor unassigned ones.
bool valid_close_code(uint16_t code);

// Appends one whole frame. With mask_key the copied payload is masked (the caller's is untouched).
void append_frame(std::string& out, opcode op, std::string_view payload, bool fin = true,
                  const uint8_t* mask_key = nullptr);

// Appends a close frame. code 0 sends an empty payload (no code, no reason); otherwise the reason
// is cut to 123 bytes at a UTF-8 character boundary to fit a control frame.
void append_close_frame(std::string& out, uint16_t code, std::string_view reason,
                        const uint8_t* mask_key = nullptr);

}  // namespace chorus::ws
