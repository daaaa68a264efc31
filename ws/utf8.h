// UTF-8 validation for text frames, close reasons and display names (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF). A thin wrapper so that only one file pulls in simdjson.
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

// Length of the well-formed UTF-8 sequence starting at data[0] (1-4), or 0 when the bytes there
// do not begin one (a byte-at-a-time decoder for error paths, e.g. replacing invalid bytes).
size_t utf8_sequence_size(const uint8_t* data, size_t size);

}  // namespace chorus::ws
