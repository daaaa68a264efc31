// HTTP/1.x request-head parser for the upgrade request and the few plain endpoints (RFC 9112).
// Stateless and allocation-free: the caller accumulates received bytes and calls again; the
// result is a set of views into those bytes. No request bodies are supported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace chorus::ws {

struct http_request {
    std::string_view method, target, path, query;  // path: target before '?'; query: after it
    int version_minor = 1;                         // HTTP/1.x
    // First value of each header (OWS trimmed), empty if absent. Host, Sec-WebSocket-Key,
    // Origin and Authorization may appear only once; list headers (Connection, Upgrade,
    // Sec-WebSocket-Protocol/-Extensions) may repeat: use header_has_token to see every line.
    std::string_view host, upgrade, connection, websocket_key, websocket_version,
        websocket_protocol, websocket_extensions, origin, authorization;
    size_t header_bytes = 0;  // bytes of the head including the final CRLFCRLF
    std::string_view head;    // the whole head (bytes[0, header_bytes)), for other headers
    uint8_t repeated_list_headers = 0;  // repeated_* bits: list headers seen more than once
};

// Bits of http_request::repeated_list_headers.
constexpr uint8_t repeated_upgrade = 1, repeated_connection = 2, repeated_protocol = 4,
                  repeated_extensions = 8;

enum class parse_status { incomplete, complete, error };

struct parse_outcome {
    parse_status status = parse_status::incomplete;
    // On error: 400 malformed, 431 head too large, 505 HTTP major version not 1, 501 unsupported
    // (Transfer-Encoding, or a request body).
    int http_status = 0;
    const char* message = "";  // human text for the error body (static storage)
    http_request request;      // views into `bytes`, valid while they are
};

constexpr size_t header_bytes_max_default = 8192;

// Parses the request head at the start of `bytes`. Returns incomplete until the blank line has
// arrived, or error 431 once more than header_bytes_max bytes have arrived without it. Errors in
// lines that have fully arrived are reported at once. Header names are case-insensitive, OWS
// around values is trimmed, leading empty lines are skipped; bare LF line ends, obs-fold, and
// whitespace before a colon are refused (400). HTTP/1.1 requires Host.
parse_outcome parse_http_request(std::string_view bytes,
                                 size_t header_bytes_max = header_bytes_max_default);

// First value (OWS trimmed) of header `name` (case-insensitive) in a parsed head; nullopt if
// absent. For headers without a field in http_request (e.g. X-Forwarded-For).
std::optional<std::string_view> find_header(const http_request& request, std::string_view name);

// True when any `name` header line holds `token` as one element of its comma-separated list
// (elements OWS-trimmed). Case-insensitive unless case_sensitive.
bool header_has_token(const http_request& request, std::string_view name, std::string_view token,
                      bool case_sensitive = false);

// HTTP keep-alive rules: 1.1 keeps the connection unless "Connection: close"; 1.0 closes unless
// "Connection: keep-alive".
bool wants_keep_alive(const http_request& request);

// ASCII case-insensitive equality (header names, tokens).
bool equals_ignoring_case(std::string_view a, std::string_view b);

}  // namespace chorus::ws
