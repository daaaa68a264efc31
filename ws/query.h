// Query-string helpers for the upgrade URL (`/v1/rooms/r?user=a&name=...`): find a raw parameter,
// then RFC 3986 percent-decode it. Pure functions over bytes; the caller owns all storage.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chorus::ws {

// Decodes RFC 3986 %XX escapes (either hex case) from `in`, replacing the contents of `out`.
// '+' stays a literal '+'. Returns false on a malformed escape ('%' not followed by two hex
// digits); `out` then holds an unspecified prefix. The decoded bytes may be any octets, including
// NUL or invalid UTF-8: validate them for their use.
bool percent_decode(std::string_view in, std::string& out);

// The raw (still percent-encoded) value of the first `key=...` in `query` (the part after '?',
// parameters separated by '&'), as a view into `query`. Keys are compared byte for byte, without
// decoding. "" for a bare `key` or `key=`; nullopt when the key is absent.
std::optional<std::string_view> query_param(std::string_view query, std::string_view key);

}  // namespace chorus::ws
