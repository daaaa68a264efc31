// Resume tokens (PROTOCOL §6): an opaque, URL-safe string handed out in every welcome that lets a
// reconnecting client reclaim its member id. Unforgeable (HMAC-SHA256 under a server key shared by
// every node) and bound to the room and user it was issued for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chorus::core {

struct resume_claims {
    uint32_t member = 0;
    uint64_t session = 0;
    int64_t issued_unix = 0;
};

inline constexpr size_t resume_mac_bytes = 16;
// version(1) + member(4) + session(8) + issued(8) + truncated MAC(16) = 37 bytes -> 50 chars.
inline constexpr size_t resume_token_bytes = 1 + 4 + 8 + 8 + resume_mac_bytes;
inline constexpr size_t resume_token_chars = 50;

// Returns a token of resume_token_chars characters of [A-Za-z0-9_-]. `key` must not be empty.
std::string make_resume_token(std::string_view key, std::string_view room, std::string_view user,
                              const resume_claims& claims);

// The claims if `token` was made with `key` for exactly this room and user; nullopt for anything
// else (forged, altered, truncated, other room or user, wrong version, empty key). Constant-time
// MAC comparison. The caller decides whether issued_unix is recent enough.
std::optional<resume_claims> verify_resume_token(std::string_view key, std::string_view token,
                                                 std::string_view room, std::string_view user);

// `bytes` random bytes from the system CSPRNG (RAND_bytes), e.g. a per-cluster resume key.
std::string random_key(size_t bytes = 32);

}  // namespace chorus::core
