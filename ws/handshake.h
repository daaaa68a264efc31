// RFC 6455 opening handshake (section 4.2) and the plain HTTP responses the server writes before
// or instead of an upgrade: refusals with a JSON body, and ordinary responses for other paths.
#pragma once

#include <string>
#include <string_view>

#include "ws/http_request.h"

namespace chorus::ws {

struct upgrade_check {
    // 0: a valid RFC 6455 upgrade. 426: not an upgrade at all (no "Upgrade: websocket"), or a
    // missing/unsupported Sec-WebSocket-Version (the refusal must carry Sec-WebSocket-Version: 13,
    // which append_error_response adds for 426). 400: a malformed upgrade (method not GET, not
    // HTTP/1.1+, Connection without "upgrade", Sec-WebSocket-Key not base64 of 16 bytes).
    int http_status = 0;
    const char* message = "";       // static storage
    bool offers_chorus_v1 = false;  // client listed subprotocol "chorus.v1" (case-sensitive)
};

upgrade_check check_upgrade(const http_request& request);

// True when `key` is the base64 encoding of exactly 16 bytes (24 characters ending in "==").
bool valid_websocket_key(std::string_view key);

// base64(SHA-1(client_key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), via libcrypto.
std::string accept_key(std::string_view client_key);

// Appends "101 Switching Protocols" for client_key; selects chorus.v1 when asked. No extensions.
void append_upgrade_response(std::string& out, std::string_view client_key, bool select_chorus_v1);

// Appends a refusal: status line, Content-Type: application/json, Content-Length,
// Connection: close, body {"error":"<code>","message":"<message>"} (JSON-escaped). A 426 also
// carries "Upgrade: websocket" and "Sec-WebSocket-Version: 13".
void append_error_response(std::string& out, int status, std::string_view code,
                           std::string_view message);

// Appends any other response: status line, Content-Type, Content-Length, Connection: close (or
// keep-alive), then extra_headers verbatim (whole "Name: value\r\n" lines), then the body.
void append_http_response(std::string& out, int status, std::string_view content_type,
                          std::string_view body, bool keep_alive = false,
                          std::string_view extra_headers = {});

// Reason phrase for a status code ("Not Found"); a generic phrase for unknown codes.
const char* status_text(int status);

// Appends `text` as the inside of a JSON string: escapes '"', '\\' and control characters (as
// \u00XX), keeps valid UTF-8 as is, and replaces each invalid byte with U+FFFD so that the
// output is always valid JSON.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace chorus::ws
