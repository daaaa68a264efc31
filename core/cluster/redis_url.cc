// redis:// URL parsing: split at the scheme, the last '@' (the password may hold any character,
// escaped or not) and the port; decode percent-escapes in the credentials; check the host.
#include "core/cluster/redis_url.h"

#include <charconv>

namespace chorus::core::cluster {

namespace {

constexpr std::string_view scheme = "redis://";
constexpr std::string_view shape = "a Redis address looks like redis://[user:password@]host[:port]";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes %XX escapes. False on a broken escape or a control character (never a valid credential
// and a sign that the shell mangled the argument).
bool percent_decode(std::string_view in, std::string* out) {
    out->clear();
    for (size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            int high = hex_value(in[i + 1]), low = hex_value(in[i + 2]);
            if (high < 0 || low < 0) return false;
            c = static_cast<char>(high * 16 + low);
            i += 2;
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
        out->push_back(c);
    }
    return true;
}

bool host_like(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    for (char c : host)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    return true;
}

bool ipv6_like(std::string_view host) {
    if (host.size() < 2 || host.size() > 45) return false;
    for (char c : host)
        if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
              c == ':' || c == '.'))
            return false;
    return host.find(':') != std::string_view::npos;
}

}  // namespace

bool parse_redis_url(std::string_view url, redis_address* out, std::string* error) {
    if (!url.starts_with(scheme)) {
        *error = std::string(shape) + " (rediss://, TLS, is not supported)";
        return false;
    }
    std::string_view rest = url.substr(scheme.size());
    redis_address parsed;
    if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = rest.substr(0, at);
        rest.remove_prefix(at + 1);
        size_t colon = userinfo.find(':');
        std::string_view user = userinfo.substr(0, colon);
        if (!percent_decode(user, &parsed.user)) {
            *error = "the Redis user has a broken %-escape or a control character";
            return false;
        }
        if (colon != std::string_view::npos) {
            if (!percent_decode(userinfo.substr(colon + 1), &parsed.password)) {
                *error = "the Redis password has a broken %-escape or a control character";
                return false;
            }
            if (parsed.password.empty()) {
                *error = "the Redis password after ':' is empty (leave out ':' to give none)";
                return false;
            }
        } else if (parsed.user.empty()) {
            *error = std::string(shape) + " (nothing before '@')";
            return false;
        }
    }
    if (rest.ends_with("/")) rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos) {
        *error = std::string(shape) + " (no database number or path: chorusd uses database 0)";
        return false;
    }
    std::string_view host = rest, port_text;
    if (rest.starts_with("[")) {
        size_t close = rest.find(']');
        if (close == std::string_view::npos) {
            *error = "an IPv6 Redis address needs its closing ']'";
            return false;
        }
        host = rest.substr(1, close - 1);
        std::string_view after = rest.substr(close + 1);
        if (!after.empty() && !after.starts_with(":")) {
            *error = std::string(shape) + " (text after the IPv6 address)";
            return false;
        }
        if (!after.empty()) port_text = after.substr(1);
        if (after == ":") port_text = ":";  // an empty port: rejected below
        if (!ipv6_like(host)) {
            *error = "the Redis host is not an IPv6 address";
            return false;
        }
    } else {
        size_t colon = rest.find(':');
        if (colon != std::string_view::npos) {
            host = rest.substr(0, colon);
            port_text = rest.substr(colon + 1);
            if (port_text.empty()) port_text = ":";
        }
        if (!host_like(host)) {
            *error = host.empty() ? std::string(shape) + " (the host is missing)"
                                  : "the Redis host must be a name or an address (IPv6 in [])";
            return false;
        }
    }
    if (!port_text.empty()) {
        uint32_t port = 0;
        auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535) {
            *error = "the Redis port must be 1-65535";
            return false;
        }
        parsed.port = static_cast<uint16_t>(port);
    }
    parsed.host = std::string(host);
    *out = std::move(parsed);
    return true;
}

std::string redact_redis_url(std::string_view url) {
    if (!url.starts_with(scheme)) return "(not a redis:// address)";
    std::string_view rest = url.substr(scheme.size());
    size_t at = rest.rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    std::string_view userinfo = rest.substr(0, at);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) return std::string(url);
    std::string out(scheme);
    out += userinfo.substr(0, colon);
    out += ":***@";
    out += rest.substr(at + 1);
    return out;
}

}  // namespace chorus::core::cluster
