// HS256 JSON Web Token verification for the connect handshake and the admin endpoints
// (PROTOCOL §1, §8). Only the compact form, only HS256; the signature is checked in constant time
// before any claim is read, and every claim is type- and range-checked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace chorus::core {

inline constexpr size_t jwt_bytes_max = 8192;  // longer tokens are malformed, not parsed
inline constexpr size_t jwt_name_bytes_max = 64;

struct token_claims {
    std::string user;  // sub (required, 1-64 bytes of [A-Za-z0-9_.-])
    std::string room;  // room (required): a room id or "*"
    std::string name;  // name (optional; empty if absent; <= 64 bytes, no control characters)
    bool has_name = false;
    int64_t expires = 0;  // exp (required, integer unix seconds)
    bool speak = true;    // speak (optional bool, default true)
    bool admin = false;   // admin (optional bool, default false)
};

enum class token_error { malformed, bad_algorithm, bad_signature, expired, missing_claim };

// Human text for the 401 body; static storage.
const char* token_error_text(token_error e);

// Verifies a compact HS256 JWT against `secret` at `now_unix`. exp < now - leeway is expired
// (a negative leeway counts as 0). An empty secret verifies nothing (bad_signature). Unknown
// claims are ignored; a duplicate claim, a header with "crit", or trailing JSON are malformed.
base::result<token_claims, token_error> verify_jwt(std::string_view token, std::string_view secret,
                                                   int64_t now_unix, int64_t leeway_seconds = 5);

// Signs `payload_json` (used verbatim) with header {"alg":"HS256","typ":"JWT"}. For tests, tools
// and the load generator.
std::string sign_jwt_hs256(std::string_view payload_json, std::string_view secret);

// True if the token was issued for `room` or for every room ("*").
bool token_allows_room(const token_claims& claims, std::string_view room);

}  // namespace chorus::core
