// Thin wrappers over libcrypto's one-shot HMAC and CRYPTO_memcmp.
#include "core/auth/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>

#include "core/base/assert.h"

namespace chorus::core {

hmac_sha256_digest hmac_sha256(std::string_view key, std::string_view data) {
    CHORUS_ASSERT(key.size() <= static_cast<size_t>(INT_MAX));
    hmac_sha256_digest digest{};
    unsigned int digest_bytes = 0;
    // libcrypto wants a non-null key pointer even for an empty key.
    static const char empty_key = 0;
    const void* key_data = key.empty() ? &empty_key : key.data();
    const unsigned char* result = HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()),
                                       reinterpret_cast<const unsigned char*>(data.data()),
                                       data.size(), digest.data(), &digest_bytes);
    CHORUS_ASSERT(result != nullptr);
    CHORUS_ASSERT(digest_bytes == hmac_sha256_bytes);
    return digest;
}

bool equal_constant_time(const void* a, const void* b, size_t n) {
    return CRYPTO_memcmp(a, b, n) == 0;
}

}  // namespace chorus::core
