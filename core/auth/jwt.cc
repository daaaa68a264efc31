// HS256 JWT verification. Order matters for safety: split and decode all three parts, check the
// header's alg, check the MAC in constant time, and only then parse the payload's claims.
#include "core/auth/jwt.h"

#include <simdjson.h>

#include <optional>
#include <utility>

#include "core/auth/hmac.h"
#include "core/base/base64.h"

namespace chorus::core {

namespace {

namespace ondemand = simdjson::ondemand;
using verify_result = base::result<token_claims, token_error>;

constexpr size_t identifier_bytes_max = 64;
constexpr std::string_view jwt_header_hs256 = R"({"alg":"HS256","typ":"JWT"})";

bool valid_identifier(std::string_view id) {
    if (id.empty() || id.size() > identifier_bytes_max) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// UTF-8 is already validated by simdjson; this rejects C0, DEL and C1 (U+0080..U+009F).
bool valid_display_name(std::string_view name) {
    if (name.size() > jwt_name_bytes_max) return false;
    for (size_t i = 0; i < name.size(); i++) {
        auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f) return false;
        if (c == 0xc2 && i + 1 < name.size()) {
            auto next = static_cast<unsigned char>(name[i + 1]);
            if (next >= 0x80 && next <= 0x9f) return false;
        }
    }
    return true;
}

// One parser per thread: verification happens on the shard threads, and a parser reuses its
// buffers between documents.
ondemand::parser& json_parser() {
    thread_local ondemand::parser parser;
    return parser;
}

// True once the root value has been read and nothing but whitespace follows it (trailing
// content such as `{} {}` would otherwise go unnoticed by the on-demand parser).
bool at_document_end(ondemand::document& doc) {
    return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

// Header: a JSON object whose "alg" is exactly "HS256". Returns nullopt when acceptable.
std::optional<token_error> check_header(std::string_view json) {
    simdjson::padded_string padded(json);
    ondemand::document doc;
    if (json_parser().iterate(padded).get(doc)) return token_error::malformed;
    ondemand::object object;
    if (doc.get_object().get(object)) return token_error::malformed;
    bool seen_alg = false;
    bool alg_ok = false;
    for (auto field_result : object) {
        ondemand::field field;
        std::string_view key;
        if (std::move(field_result).get(field) || field.unescaped_key().get(key))
            return token_error::malformed;
        if (key == "crit") return token_error::malformed;
        if (key != "alg") continue;
        if (seen_alg) return token_error::malformed;
        seen_alg = true;
        std::string_view alg;
        alg_ok = !field.value().get_string().get(alg) && alg == "HS256";
    }
    if (!at_document_end(doc)) return token_error::malformed;
    if (!alg_ok) return token_error::bad_algorithm;
    return std::nullopt;
}

enum claim_bit : int { sub = 1, room = 2, exp = 4, name = 8, speak = 16, admin = 32 };
constexpr int required_claims = claim_bit::sub | claim_bit::room | claim_bit::exp;

int claim_bit_of(std::string_view key) {
    if (key == "sub") return claim_bit::sub;
    if (key == "room") return claim_bit::room;
    if (key == "exp") return claim_bit::exp;
    if (key == "name") return claim_bit::name;
    if (key == "speak") return claim_bit::speak;
    if (key == "admin") return claim_bit::admin;
    return 0;
}

// Reads one known claim into `claims`; false on a wrong type or an invalid value.
bool read_claim(int bit, ondemand::value value, token_claims& claims) {
    std::string_view text;
    switch (bit) {
        case claim_bit::sub:
            if (value.get_string().get(text) || !valid_identifier(text)) return false;
            claims.user.assign(text);
            return true;
        case claim_bit::room:
            if (value.get_string().get(text)) return false;
            if (text != "*" && !valid_identifier(text)) return false;
            claims.room.assign(text);
            return true;
        case claim_bit::exp:
            return !value.get_int64().get(claims.expires);
        case claim_bit::name:
            if (value.get_string().get(text) || !valid_display_name(text)) return false;
            claims.name.assign(text);
            claims.has_name = true;
            return true;
        case claim_bit::speak:
            return !value.get_bool().get(claims.speak);
        case claim_bit::admin:
            return !value.get_bool().get(claims.admin);
    }
    return true;
}

verify_result parse_claims(std::string_view json) {
    simdjson::padded_string padded(json);
    ondemand::document doc;
    if (json_parser().iterate(padded).get(doc))
        return verify_result::failure(token_error::malformed);
    ondemand::object object;
    if (doc.get_object().get(object)) return verify_result::failure(token_error::malformed);
    token_claims claims;
    int seen = 0;
    for (auto field_result : object) {
        ondemand::field field;
        std::string_view key;
        if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
            return verify_result::failure(token_error::malformed);
        }
        int bit = claim_bit_of(key);
        if (bit == 0) continue;  // unknown claims (iat, iss, ...) are ignored
        // A claim given twice would let two parsers disagree on what the token says.
        if ((seen & bit) != 0) return verify_result::failure(token_error::malformed);
        seen |= bit;
        if (!read_claim(bit, field.value(), claims)) {
            return verify_result::failure(token_error::malformed);
        }
    }
    if (!at_document_end(doc)) return verify_result::failure(token_error::malformed);
    if ((seen & required_claims) != required_claims) {
        return verify_result::failure(token_error::missing_claim);
    }
    return claims;
}

}  // namespace

const char* token_error_text(token_error e) {
    switch (e) {
        case token_error::malformed:
            return "the token is not a well-formed JWT with valid claims";
        case token_error::bad_algorithm:
            return "the token must be signed with HS256";
        case token_error::bad_signature:
            return "the token signature does not match; check the shared secret";
        case token_error::expired:
            return "the token has expired; get a fresh one";
        case token_error::missing_claim:
            return "the token lacks a required claim (sub, room and exp are required)";
    }
    return "the token is invalid";
}

verify_result verify_jwt(std::string_view token, std::string_view secret, int64_t now_unix,
                         int64_t leeway_seconds) {
    // JWS compact form is unpadded base64url (RFC 7515 §2); padding would make a second spelling.
    if (token.size() > jwt_bytes_max || token.find('=') != token.npos) {
        return verify_result::failure(token_error::malformed);
    }
    size_t first_dot = token.find('.');
    if (first_dot == std::string_view::npos) return verify_result::failure(token_error::malformed);
    size_t second_dot = token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != token.npos) {
        return verify_result::failure(token_error::malformed);
    }
    std::string_view header_part = token.substr(0, first_dot);
    std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
    std::string_view signature_part = token.substr(second_dot + 1);
    if (header_part.empty() || payload_part.empty()) {
        return verify_result::failure(token_error::malformed);
    }
    std::optional<std::string> header = base::base64url_decode(header_part);
    std::optional<std::string> payload = base::base64url_decode(payload_part);
    std::optional<std::string> signature = base::base64url_decode(signature_part);
    if (!header || !payload || !signature) return verify_result::failure(token_error::malformed);

    if (std::optional<token_error> error = check_header(*header)) {
        return verify_result::failure(*error);
    }
    if (secret.empty() || signature->size() != hmac_sha256_bytes) {
        return verify_result::failure(token_error::bad_signature);
    }
    hmac_sha256_digest expected = hmac_sha256(secret, token.substr(0, second_dot));
    if (!equal_constant_time(expected.data(), signature->data(), hmac_sha256_bytes)) {
        return verify_result::failure(token_error::bad_signature);
    }

    verify_result claims = parse_claims(*payload);
    if (!claims.ok()) return claims;
    if (leeway_seconds < 0) leeway_seconds = 0;
    // exp < now - leeway, in 128 bits so that no int64 input can overflow.
    using wide = __int128;
    if (wide{claims.value().expires} < wide{now_unix} - wide{leeway_seconds}) {
        return verify_result::failure(token_error::expired);
    }
    return claims;
}

std::string sign_jwt_hs256(std::string_view payload_json, std::string_view secret) {
    std::string token = base::base64url_encode(jwt_header_hs256);
    token.push_back('.');
    token += base::base64url_encode(payload_json);
    hmac_sha256_digest mac = hmac_sha256(secret, token);
    token.push_back('.');
    token += base::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
    return token;
}

bool token_allows_room(const token_claims& claims, std::string_view room) {
    return claims.room == "*" || claims.room == room;
}

}  // namespace chorus::core
