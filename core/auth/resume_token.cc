// Resume token layout: base64url(version | member | session | issued | mac[0..16)), integers big
// endian. The MAC covers a domain label, the version, the length-prefixed room and user, and the
// integer fields, so a token cannot be replayed for another room/user or reinterpreted.
#include "core/auth/resume_token.h"

#include <openssl/rand.h>

#include <climits>
#include <cstring>

#include "core/auth/hmac.h"
#include "core/base/assert.h"
#include "core/base/base64.h"

namespace chorus::core {

namespace {

constexpr uint8_t resume_version = 1;
constexpr std::string_view resume_domain = "chorus.resume.v1";
constexpr size_t resume_fields_bytes = resume_token_bytes - resume_mac_bytes;
constexpr size_t identifier_bytes_max = 255;  // lengths are prefixed with one byte

static_assert(resume_token_chars == (resume_token_bytes * 8 + 5) / 6);

void put_be(std::string& out, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; i--)
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_be(const char* in, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++) value = (value << 8) | static_cast<uint8_t>(in[i]);
    return value;
}

std::string encode_fields(const resume_claims& claims) {
    std::string fields;
    fields.reserve(resume_token_bytes);
    fields.push_back(static_cast<char>(resume_version));
    put_be(fields, claims.member, 4);
    put_be(fields, claims.session, 8);
    put_be(fields, static_cast<uint64_t>(claims.issued_unix), 8);
    return fields;
}

hmac_sha256_digest resume_mac(std::string_view key, std::string_view room, std::string_view user,
                              std::string_view fields) {
    std::string input;
    input.reserve(resume_domain.size() + 2 + room.size() + user.size() + fields.size());
    input += resume_domain;
    input.push_back(static_cast<char>(room.size()));
    input += room;
    input.push_back(static_cast<char>(user.size()));
    input += user;
    input += fields;
    return hmac_sha256(key, input);
}

}  // namespace

std::string make_resume_token(std::string_view key, std::string_view room, std::string_view user,
                              const resume_claims& claims) {
    CHORUS_ASSERT(!key.empty());
    CHORUS_ASSERT(room.size() <= identifier_bytes_max);
    CHORUS_ASSERT(user.size() <= identifier_bytes_max);
    std::string token_bytes = encode_fields(claims);
    hmac_sha256_digest mac = resume_mac(key, room, user, token_bytes);
    token_bytes.append(reinterpret_cast<const char*>(mac.data()), resume_mac_bytes);
    CHORUS_ASSERT(token_bytes.size() == resume_token_bytes);
    return base::base64url_encode(token_bytes);
}

std::optional<resume_claims> verify_resume_token(std::string_view key, std::string_view token,
                                                 std::string_view room, std::string_view user) {
    if (key.empty() || token.size() != resume_token_chars) return std::nullopt;
    if (room.size() > identifier_bytes_max || user.size() > identifier_bytes_max) {
        return std::nullopt;
    }
    std::optional<std::string> bytes = base::base64url_decode(token);
    if (!bytes || bytes->size() != resume_token_bytes) return std::nullopt;
    if (static_cast<uint8_t>((*bytes)[0]) != resume_version) return std::nullopt;

    std::string_view fields(bytes->data(), resume_fields_bytes);
    hmac_sha256_digest mac = resume_mac(key, room, user, fields);
    if (!equal_constant_time(mac.data(), bytes->data() + resume_fields_bytes, resume_mac_bytes)) {
        return std::nullopt;
    }
    resume_claims claims;
    claims.member = static_cast<uint32_t>(get_be(bytes->data() + 1, 4));
    claims.session = get_be(bytes->data() + 5, 8);
    claims.issued_unix = static_cast<int64_t>(get_be(bytes->data() + 13, 8));
    return claims;
}

std::string random_key(size_t bytes) {
    CHORUS_ASSERT(bytes <= static_cast<size_t>(INT_MAX));
    std::string key(bytes, '\0');
    if (bytes == 0) return key;
    int ok = RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(bytes));
    CHORUS_ASSERT(ok == 1);  // the system CSPRNG failing leaves nothing safe to do
    return key;
}

}  // namespace chorus::core
