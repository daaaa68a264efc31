// HMAC-SHA256 and constant-time comparison shared by the JWT and resume-token code (libcrypto).
// Internal to core/auth.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace chorus::core {

inline constexpr size_t hmac_sha256_bytes = 32;
using hmac_sha256_digest = std::array<uint8_t, hmac_sha256_bytes>;

// MAC of `data` under `key`. Keys longer than INT_MAX bytes are a programming error.
hmac_sha256_digest hmac_sha256(std::string_view key, std::string_view data);

// Compares `n` bytes in time that does not depend on where they differ.
bool equal_constant_time(const void* a, const void* b, size_t n);

}  // namespace chorus::core
