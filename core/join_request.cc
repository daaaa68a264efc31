// The join-request parser: identity (dev query or JWT), display name, last_seq, resume token.
#include "core/join_request.h"

#include <charconv>
#include <optional>

#include "core/auth/jwt.h"
#include "core/auth/resume_token.h"
#include "core/limits.h"
#include "ws/handshake.h"
#include "ws/query.h"
#include "ws/utf8.h"

namespace chorus::core {

namespace {

bool valid_id(std::string_view id, size_t max) {
    if (id.empty() || id.size() > max) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

join_refusal refuse(int status, std::string_view code, std::string_view message) {
    return {status, code, message};
}

// Identity from a JWT (?token=) when an auth secret is set, else from the dev query.
join_refusal read_identity(std::string_view query, std::string_view room_id,
                           const join_secrets& secrets, join_request& out, bool* has_name) {
    if (!secrets.auth_secret.empty()) {
        std::string text;
        auto raw = ws::query_param(query, "token");
        if (!raw || raw->empty() || !ws::percent_decode(*raw, text))
            return refuse(401, "unauthorized", "a token is required: ?token=<jwt>");
        auto claims = verify_jwt(text, secrets.auth_secret, secrets.now_unix);
        if (!claims.ok()) return refuse(401, "unauthorized", token_error_text(claims.error()));
        if (!token_allows_room(claims.value(), room_id))
            return refuse(403, "forbidden", "the token is not valid for this room");
        out.user = claims.value().user;
        *has_name = claims.value().has_name;
        out.name = claims.value().name;
        out.speak = claims.value().speak;
        out.admin = claims.value().admin;
        return {};
    }
    auto raw = ws::query_param(query, "user");
    if (!raw || !ws::percent_decode(*raw, out.user) || !user_id_valid(out.user))
        return refuse(400, "bad_request", "user must be 1-64 characters of A-Z a-z 0-9 _ . -");
    // v1.1: dev mode trusts the query's user already, so it may also make that user a host.
    if (auto raw_admin = ws::query_param(query, "admin")) {
        if (*raw_admin == "1") {
            out.admin = true;
        } else if (*raw_admin != "0") {
            return refuse(400, "bad_request", "admin must be 0 or 1");
        }
    }
    if (auto raw_name = ws::query_param(query, "name")) {
        *has_name = true;
        if (!ws::percent_decode(*raw_name, out.name))
            return refuse(400, "bad_request", "malformed percent escape in name");
    }
    return {};
}

}  // namespace

bool room_id_valid(std::string_view id) {
    return valid_id(id, room_id_bytes_max);
}

bool user_id_valid(std::string_view id) {
    return valid_id(id, user_id_bytes_max);
}

bool display_name_valid(std::string_view name) {
    if (name.size() > display_name_bytes_max) return false;
    if (!ws::valid_utf8(name)) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f) return false;
        // C1 controls U+0080..U+009F are encoded C2 80..C2 9F
        if (c == 0xc2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) <= 0x9f)
            return false;
    }
    return true;
}

join_refusal parse_join_request(const ws::http_request& request, std::string_view room_id,
                                const join_secrets& secrets, join_request* out) {
    std::string_view query = request.query;
    out->room = room_id;
    out->chorus_v1 = ws::check_upgrade(request).offers_chorus_v1;
    bool has_name = false;
    if (join_refusal r = read_identity(query, room_id, secrets, *out, &has_name); r.status)
        return r;
    if (!has_name) out->name = out->user;
    if (!display_name_valid(out->name))
        return refuse(400, "bad_request",
                      "name must be at most 64 bytes of UTF-8 without controls");
    if (auto raw = ws::query_param(query, "last_seq")) {
        auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), out->last_seq);
        if (ec != std::errc() || end != raw->data() + raw->size() || raw->empty())
            return refuse(400, "bad_request", "last_seq must be a non-negative integer");
        out->has_last_seq = true;
    }
    if (auto raw = ws::query_param(query, "resume")) {
        std::string token;
        std::optional<resume_claims> claims;
        out->resume_asked = true;
        if (ws::percent_decode(*raw, token))
            claims = verify_resume_token(secrets.resume_key, token, room_id, out->user);
        if (!claims) return {};  // an ordinary join with "gap": true
        out->resume = true;
        out->resume_member = claims->member;
        out->resume_session = claims->session;
    }
    return {};
}

}  // namespace chorus::core
