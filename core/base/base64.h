// URL-safe base64 (RFC 4648 §5) as used by JWTs and resume tokens: '-' and '_' instead of '+'
// and '/', no padding on output. Decoding is strict so that each byte string has one encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chorus::base {

// Returns the unpadded encoding of `bytes`.
std::string base64url_encode(std::string_view bytes);

// Accepts the url-safe alphabet only, either unpadded or fully padded to a multiple of 4 with
// '='. nullopt on any other character, a length that cannot be base64, misplaced padding, or
// non-zero unused bits in the last character (a non-canonical encoding).
std::optional<std::string> base64url_decode(std::string_view text);

// Size of the unpadded encoding of `bytes` bytes.
constexpr size_t base64url_encoded_size(size_t bytes) {
    return (bytes * 8 + 5) / 6;
}

}  // namespace chorus::base
