// Tests for the RFC 6455 handshake checks, the accept key, and the HTTP response writers.
#include "ws/handshake.h"

#include <gtest/gtest.h>

#include <string>

namespace chorus::ws {
namespace {

std::string request_with(std::string_view method, std::string_view version,
                         std::string_view headers) {
    std::string text;
    text.append(method).append(" /v1/rooms/r?user=u HTTP/").append(version).append("\r\n");
    text.append("Host: h\r\n").append(headers).append("\r\n");
    return text;
}

const std::string good_headers =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";

upgrade_check check(const std::string& text) {
    const parse_outcome outcome = parse_http_request(text);
    EXPECT_EQ(outcome.status, parse_status::complete) << text;
    return check_upgrade(outcome.request);
}

// RFC 6455 section 1.3: SHA-1 of the key + GUID is b37a4f2c...c4ea, base64 as below.
TEST(Handshake, AcceptKeyMatchesRfcSample) {
    EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Handshake, AcceptKeyOfLongKey) {
    // Not a valid key, but hashing must still be right (and not overflow the stack buffer).
    const std::string key(200, 'k');
    EXPECT_EQ(accept_key(key).size(), 28u);
    EXPECT_NE(accept_key(key), accept_key(std::string(199, 'k')));
    EXPECT_EQ(accept_key(key), accept_key(key));
}

TEST(Handshake, ValidUpgrade) {
    const upgrade_check result = check(request_with("GET", "1.1", good_headers));
    EXPECT_EQ(result.http_status, 0);
    EXPECT_FALSE(result.offers_chorus_v1);
}

TEST(Handshake, CaseInsensitiveTokens) {
    const upgrade_check result = check(request_with(
        "GET", "1.1",
        "upgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
        "sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\nsec-websocket-version: 13\r\n"));
    EXPECT_EQ(result.http_status, 0);
}

TEST(Handshake, Subprotocol) {
    auto result = check(
        request_with("GET", "1.1", good_headers + "Sec-WebSocket-Protocol: other, chorus.v1\r\n"));
    EXPECT_EQ(result.http_status, 0);
    EXPECT_TRUE(result.offers_chorus_v1);
    result = check(request_with("GET", "1.1",
                                good_headers + "Sec-WebSocket-Protocol: other\r\n"
                                               "Sec-WebSocket-Protocol: chorus.v1\r\n"));
    EXPECT_TRUE(result.offers_chorus_v1);
    result =
        check(request_with("GET", "1.1", good_headers + "Sec-WebSocket-Protocol: chorus.v2\r\n"));
    EXPECT_FALSE(result.offers_chorus_v1);
}

TEST(Handshake, NotAnUpgradeIs426) {
    EXPECT_EQ(check(request_with("GET", "1.1", "")).http_status, 426);
    EXPECT_EQ(
        check(request_with("GET", "1.1", "Upgrade: h2c\r\nConnection: upgrade\r\n")).http_status,
        426);
}

TEST(Handshake, WrongVersionIs426) {
    const std::string base =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
        "dGhlIHNhbXBsZSBub25jZQ==\r\n";
    EXPECT_EQ(check(request_with("GET", "1.1", base)).http_status, 426);
    EXPECT_EQ(check(request_with("GET", "1.1", base + "Sec-WebSocket-Version: 8\r\n")).http_status,
              426);
    EXPECT_EQ(
        check(request_with("GET", "1.1", base + "Sec-WebSocket-Version: 13, 8\r\n")).http_status,
        426);
}

TEST(Handshake, MalformedUpgradeIs400) {
    EXPECT_EQ(check(request_with("POST", "1.1", good_headers)).http_status, 400);
    EXPECT_EQ(check(request_with("GET", "1.0", good_headers)).http_status, 400);
    const std::string no_connection =
        "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n";
    EXPECT_EQ(check(request_with("GET", "1.1", no_connection)).http_status, 400);
    EXPECT_EQ(
        check(request_with("GET", "1.1", no_connection + "Connection: upgraded\r\n")).http_status,
        400);
}

TEST(Handshake, BadKeysAre400) {
    const char* bad_keys[] = {
        "",                           // missing
        "dGhlIHNhbXBsZSBub25jZQ",     // no padding
        "dGhlIHNhbXBsZSBub25jZQ=",    // short padding
        "dGhlIHNhbXBsZSBub25jZQ===",  // too long
        "dGhlIHNhbXBsZSBub25j",       // 15 bytes
        "dGhlIHNhbXBsZSBub25jZSE=",   // 17 bytes
        "dGhlIHNhbXBsZSBub25jZR==",   // non-canonical trailing bits
        "dGhlIHNhbXBsZSBub25j!Q==",   // bad character
        "dGhlIHNhbXBsZSBub25jZQ=A",
    };
    for (const char* key : bad_keys) {
        EXPECT_FALSE(valid_websocket_key(key)) << key;
        const std::string headers = std::string("Upgrade: websocket\r\nConnection: Upgrade\r\n") +
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key +
                                    "\r\n";
        EXPECT_EQ(check(request_with("GET", "1.1", headers)).http_status, 400) << key;
    }
    EXPECT_TRUE(valid_websocket_key("AAAAAAAAAAAAAAAAAAAAAA=="));
    EXPECT_TRUE(valid_websocket_key("/+/+/+/+/+/+/+/+/+/+/w=="));
}

TEST(Handshake, UpgradeResponse) {
    std::string out = "prefix";
    append_upgrade_response(out, "dGhlIHNhbXBsZSBub25jZQ==", false);
    EXPECT_EQ(out,
              "prefixHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    out.clear();
    append_upgrade_response(out, "dGhlIHNhbXBsZSBub25jZQ==", true);
    EXPECT_NE(out.find("\r\nSec-WebSocket-Protocol: chorus.v1\r\n\r\n"), std::string::npos);
    EXPECT_EQ(out.find("Extensions"), std::string::npos);
}

TEST(Handshake, ErrorResponse) {
    std::string out;
    append_error_response(out, 404, "not_found", "no \"such\" path\n");
    const std::string body =
        "{\"error\":\"not_found\",\"message\":\"no \\\"such\\\" path\\u000a\"}";
    EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    out.clear();
    append_error_response(out, 426, "upgrade_required", "use WebSocket");
    EXPECT_EQ(out.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
    EXPECT_NE(out.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(Handshake, HttpResponse) {
    std::string out;
    append_http_response(out, 200, "text/plain", "ok", true, "Cache-Control: no-store\r\n");
    EXPECT_EQ(out,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
              "Connection: keep-alive\r\nCache-Control: no-store\r\n\r\nok");
    out.clear();
    append_http_response(out, 503, "application/json", "");
    EXPECT_EQ(out,
              "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST(Handshake, StatusText) {
    EXPECT_STREQ(status_text(400), "Bad Request");
    EXPECT_STREQ(status_text(401), "Unauthorized");
    EXPECT_STREQ(status_text(403), "Forbidden");
    EXPECT_STREQ(status_text(409), "Conflict");
    EXPECT_STREQ(status_text(431), "Request Header Fields Too Large");
    EXPECT_STREQ(status_text(505), "HTTP Version Not Supported");
    EXPECT_STREQ(status_text(101), "Switching Protocols");
    EXPECT_STREQ(status_text(304), "Not Modified");
    EXPECT_STREQ(status_text(299), "OK");
    EXPECT_STREQ(status_text(399), "Redirect");
    EXPECT_STREQ(status_text(499), "Client Error");
    EXPECT_STREQ(status_text(599), "Server Error");
}

TEST(Handshake, JsonEscaping) {
    const auto escaped = [](std::string_view text) {
        std::string out;
        append_json_escaped(out, text);
        return out;
    };
    EXPECT_EQ(escaped(""), "");
    EXPECT_EQ(escaped("plain /text/"), "plain /text/");
    EXPECT_EQ(escaped("a\"b\\c"), "a\\\"b\\\\c");
    EXPECT_EQ(escaped(std::string_view("\x00\x01\t\n\x1f\x7f", 6)),
              "\\u0000\\u0001\\u0009\\u000a\\u001f\x7f");
    EXPECT_EQ(escaped("caf\xC3\xA9 \xF0\x9F\x8E\xA4"), "caf\xC3\xA9 \xF0\x9F\x8E\xA4");
    // Invalid bytes become U+FFFD; valid sequences around them survive.
    EXPECT_EQ(escaped("a\xFF\xC3\xA9\xC3"), "a\xEF\xBF\xBD\xC3\xA9\xEF\xBF\xBD");
    EXPECT_EQ(escaped("\xED\xA0\x80\""), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\\\"");
}

}  // namespace
}  // namespace chorus::ws
