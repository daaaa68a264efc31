// UTF-8 validation for text frames, close reasons and display names (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), whole or streaming (text that arrives in pieces). A thin
// wrapper so that only one file pulls in simdjson.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chorus::ws {

// True when data[0..size) is well-formed UTF-8. SIMD-accelerated (simdjson::validate_utf8).
bool valid_utf8(const uint8_t* data, size_t size);

inline bool valid_utf8(std::string_view text) {
    return valid_utf8(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// What utf8_prefix_error returns when the text can still become well-formed UTF-8.
inline constexpr size_t utf8_prefix_ok = SIZE_MAX;

// Streaming validation of a text that arrives in pieces (partial reads, fragments), so that bad
// text is refused as soon as it is received (RFC 6455 8.1 "fail fast"). text[0..size) is all of
// the text so far, held by the caller; text[0..checked) was accepted by earlier calls (0 at the
// start). Returns utf8_prefix_ok when text[0..size) is the beginning of some well-formed UTF-8,
// else the offset of the earliest byte after which no continuation can make it so. The state
// between calls is the 0-3 bytes of an unfinished character before `checked`, read back from text;
// the new bytes go through the SIMD validator and only the characters cut at the edges through a
// scalar check.
size_t utf8_prefix_error(const uint8_t* text, size_t checked, size_t size);

// True when text[0..size), accepted by utf8_prefix_error, does not end inside a character: the
// check at the end of a message.
bool utf8_ends_whole(const uint8_t* text, size_t size);

// Length of the well-formed UTF-8 sequence starting at data[0] (1-4), or 0 when the bytes there
// do not begin one (a byte-at-a-time decoder for error paths, e.g. replacing invalid bytes).
size_t utf8_sequence_size(const uint8_t* data, size_t size);

}  // namespace chorus::ws
