// The client side of HTTP for the bench: the WebSocket upgrade request and the check of its
// response, plus a small blocking GET used to scrape /metrics before and after a run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::bench {

// A random Sec-WebSocket-Key (base64 of 16 bytes) from a caller-held xorshift state.
std::string make_websocket_key(uint64_t* rng_state);

// Appends "GET path HTTP/1.1" with Host, Upgrade, Connection, Sec-WebSocket-Key/-Version.
void append_upgrade_request(std::string& out, std::string_view host, uint16_t port,
                            std::string_view path, std::string_view key);

struct upgrade_response {
    enum class state { incomplete, accepted, refused, malformed } status = state::incomplete;
    int http_status = 0;
    size_t header_bytes = 0;  // response head length including the blank line
    std::string_view body;    // refused: what followed the head (may be partial)
};

// Checks the response head in `bytes`: 101 with the right Sec-WebSocket-Accept for `key`.
// More than 16 KiB without a blank line is malformed.
upgrade_response check_upgrade_response(std::string_view bytes, std::string_view key);

// Blocking GET of an "http://host:port/path" URL with a timeout; the body on 200. False with
// *error on failure.
bool http_get(const std::string& url, int timeout_ms, std::string* body, std::string* error);

// Resolves an IPv4 host name or literal ("localhost", "127.0.0.1"); false if it cannot.
bool resolve_ipv4(const std::string& host, uint32_t* address_be);

}  // namespace chorus::bench
