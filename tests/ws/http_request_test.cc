// Tests for the HTTP request-head parser: a valid upgrade, byte-at-a-time arrival, every error
// status, case-insensitivity, the head size limit and the path/query split.
#include "ws/http_request.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace chorus::ws {
namespace {

const std::string upgrade_request =
    "GET /v1/rooms/lobby?user=alice&name=Al%20ice HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: chorus.v1\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Origin: https://example.com\r\n"
    "Authorization: Bearer abc\r\n"
    "\r\n";

// The outcome holds views into the text, so the texts live as long as the test program.
parse_outcome parse(const std::string& text, size_t max = 8192) {
    static std::deque<std::string> texts;
    texts.push_back(text);
    return parse_http_request(texts.back(), max);
}

void expect_error(const std::string& text, int status) {
    const parse_outcome outcome = parse(text);
    EXPECT_EQ(outcome.status, parse_status::error) << text;
    EXPECT_EQ(outcome.http_status, status) << text;
    EXPECT_STRNE(outcome.message, "") << text;
}

TEST(HttpRequest, ParsesUpgradeRequest) {
    const std::string bytes = upgrade_request + "trailing frame bytes";
    const parse_outcome outcome = parse(bytes);
    ASSERT_EQ(outcome.status, parse_status::complete);
    const http_request& r = outcome.request;
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/v1/rooms/lobby?user=alice&name=Al%20ice");
    EXPECT_EQ(r.path, "/v1/rooms/lobby");
    EXPECT_EQ(r.query, "user=alice&name=Al%20ice");
    EXPECT_EQ(r.version_minor, 1);
    EXPECT_EQ(r.host, "example.com:8080");
    EXPECT_EQ(r.upgrade, "websocket");
    EXPECT_EQ(r.connection, "keep-alive, Upgrade");
    EXPECT_EQ(r.websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_EQ(r.websocket_version, "13");
    EXPECT_EQ(r.websocket_protocol, "chorus.v1");
    EXPECT_EQ(r.websocket_extensions, "permessage-deflate");
    EXPECT_EQ(r.origin, "https://example.com");
    EXPECT_EQ(r.authorization, "Bearer abc");
    EXPECT_EQ(r.header_bytes, upgrade_request.size());
    EXPECT_EQ(r.head, upgrade_request);
}

TEST(HttpRequest, IncompleteAtEveryPrefixThenComplete) {
    for (size_t n = 0; n < upgrade_request.size(); ++n) {
        const parse_outcome outcome = parse(upgrade_request.substr(0, n));
        ASSERT_EQ(outcome.status, parse_status::incomplete) << "prefix " << n;
    }
    EXPECT_EQ(parse(upgrade_request).status, parse_status::complete);
}

TEST(HttpRequest, AbsentHeadersAreEmpty) {
    const parse_outcome outcome = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.path, "/");
    EXPECT_EQ(outcome.request.query, "");
    EXPECT_TRUE(outcome.request.upgrade.empty());
    EXPECT_TRUE(outcome.request.websocket_key.empty());
    EXPECT_TRUE(outcome.request.origin.empty());
}

TEST(HttpRequest, HeaderNamesAreCaseInsensitiveAndValuesTrimmed) {
    const parse_outcome outcome = parse(
        "GET /x HTTP/1.1\r\nhOsT:h\r\nUPGRADE: \t websocket \t\r\nsec-websocket-KEY:  k  \r\n"
        "SEC-WEBSOCKET-VERSION:13\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.host, "h");
    EXPECT_EQ(outcome.request.upgrade, "websocket");
    EXPECT_EQ(outcome.request.websocket_key, "k");
    EXPECT_EQ(outcome.request.websocket_version, "13");
    EXPECT_EQ(find_header(outcome.request, "Sec-WebSocket-Key").value_or("?"), "k");
    EXPECT_FALSE(find_header(outcome.request, "X-Forwarded-For").has_value());
}

TEST(HttpRequest, QuerySplit) {
    auto outcome = parse("GET /a/b?x=1?y HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.path, "/a/b");
    EXPECT_EQ(outcome.request.query, "x=1?y");
    outcome = parse("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(outcome.request.path, "/a");
    EXPECT_EQ(outcome.request.query, "");
    outcome = parse("GET http://h:1/p/q?k=v HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.path, "/p/q");
    EXPECT_EQ(outcome.request.query, "k=v");
    outcome = parse("GET http://h?k HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(outcome.request.path, "/");
    EXPECT_EQ(outcome.request.query, "k");
    outcome = parse("GET https://h:443 HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.path, "/");
    EXPECT_EQ(outcome.request.query, "");
    outcome = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(outcome.request.path, "*");
}

TEST(HttpRequest, Http10WithoutHostAndLeadingEmptyLines) {
    auto outcome = parse("GET /healthz HTTP/1.0\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.version_minor, 0);
    EXPECT_FALSE(wants_keep_alive(outcome.request));
    outcome = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.header_bytes, 4 + 27u);
    EXPECT_TRUE(wants_keep_alive(outcome.request));
}

TEST(HttpRequest, LookalikeHeaderNamesAreIgnored) {
    // Same lengths as tracked names, different spelling: not tracked, not duplicates.
    const auto outcome = parse(
        "GET / HTTP/1.1\r\nHost: h\r\nHoss: x\r\nOrigim: x\r\nUpgradf: x\r\n"
        "Connectiom: x\r\nAuthorizatiom: x\r\nContent-Lengtx: x\r\n"
        "Sec-WebSocket-Kex: x\r\nSec-WebSocket-Versiom: x\r\nSec-WebSocket-Protocox: x\r\n"
        "Sec-WebSocket-Extensiong: x\r\nHoss: y\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_TRUE(outcome.request.origin.empty());
    EXPECT_TRUE(outcome.request.upgrade.empty());
    EXPECT_TRUE(outcome.request.connection.empty());
    EXPECT_TRUE(outcome.request.authorization.empty());
    EXPECT_TRUE(outcome.request.websocket_key.empty());
    EXPECT_TRUE(outcome.request.websocket_version.empty());
    EXPECT_TRUE(outcome.request.websocket_protocol.empty());
    EXPECT_TRUE(outcome.request.websocket_extensions.empty());
    EXPECT_EQ(find_header(outcome.request, "hoss").value_or(""), "x");
}

TEST(HttpRequest, KeepAlive) {
    auto outcome = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n");
    EXPECT_FALSE(wants_keep_alive(outcome.request));
    outcome = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    EXPECT_TRUE(wants_keep_alive(outcome.request));
}

TEST(HttpRequest, RepeatedListHeadersAreAllVisible) {
    const auto outcome = parse(
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: chorus.v1\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.connection, "keep-alive");
    EXPECT_TRUE(header_has_token(outcome.request, "connection", "upgrade"));
    EXPECT_TRUE(header_has_token(outcome.request, "Sec-WebSocket-Protocol", "b", true));
    EXPECT_TRUE(header_has_token(outcome.request, "Sec-WebSocket-Protocol", "chorus.v1", true));
    EXPECT_FALSE(header_has_token(outcome.request, "Sec-WebSocket-Protocol", "CHORUS.V1", true));
    EXPECT_FALSE(header_has_token(outcome.request, "Sec-WebSocket-Protocol", "c"));
    EXPECT_EQ(outcome.request.repeated_list_headers, repeated_connection | repeated_protocol);
}

TEST(HttpRequest, HeaderTokensOfSingleAndUntrackedHeaders) {
    const auto outcome =
        parse("GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html , */*\r\nUpgrade: websocket\r\n\r\n");
    ASSERT_EQ(outcome.status, parse_status::complete);
    EXPECT_EQ(outcome.request.repeated_list_headers, 0);
    EXPECT_TRUE(header_has_token(outcome.request, "accept", "*/*"));
    EXPECT_TRUE(header_has_token(outcome.request, "ACCEPT", "text/html"));
    EXPECT_FALSE(header_has_token(outcome.request, "accept-language", "en"));
    EXPECT_TRUE(header_has_token(outcome.request, "Upgrade", "WEBSOCKET"));
    EXPECT_FALSE(header_has_token(outcome.request, "Upgrade", "WEBSOCKET", true));
    EXPECT_FALSE(header_has_token(outcome.request, "connection", "upgrade"));
    EXPECT_FALSE(header_has_token(outcome.request, "sec-websocket-protocol", ""));
}

TEST(HttpRequest, MalformedIs400) {
    expect_error("GET\r\n\r\n", 400);
    expect_error("GET /\r\n\r\n", 400);
    expect_error("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_error("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
    expect_error("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400);
    expect_error("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400);
    expect_error("GET / HTTP/11\r\nHost: h\r\n\r\n", 400);
    expect_error("GET rooms HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_error("GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_error("GET /\xC3\xA9 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\n\r\n", 400);                        // no Host
    expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);  // duplicate Host
    expect_error(
        "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: a\r\n"
        "sec-websocket-key: a\r\n\r\n",
        400);
    expect_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);            // space before colon
    expect_error("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400);  // obs-fold
    expect_error("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);  // bare CR
    expect_error("GET / HTTP/1.1\nHost: a\n\n", 400);           // bare LF
    expect_error("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
    expect_error("\n", 400);
    expect_error("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 400);
}

TEST(HttpRequest, ErrorsInCompleteLinesAreReportedEarly) {
    expect_error("HELLO\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 400);
    expect_error(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 12), 400);  // TLS
}

TEST(HttpRequest, UnsupportedVersionIs505) {
    expect_error("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    expect_error("GET / HTTP/0.9\r\n\r\n", 505);
}

TEST(HttpRequest, BodiesAreRefusedWith501) {
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 501);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").status,
              parse_status::complete);
}

TEST(HttpRequest, HeadLimitIs431) {
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    head.append(8192, 'a');
    // Incomplete while at most 8192 bytes have arrived; 431 beyond.
    EXPECT_EQ(parse(head.substr(0, 8192)).status, parse_status::incomplete);
    expect_error(head.substr(0, 8193), 431);
    expect_error(head + "\r\n\r\n", 431);
    // A head of exactly the limit is accepted.
    std::string exact = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    exact.append(8192 - exact.size() - 4, 'b');
    exact.append("\r\n\r\n");
    ASSERT_EQ(exact.size(), 8192u);
    EXPECT_EQ(parse(exact).status, parse_status::complete);
    EXPECT_EQ(parse(exact, 8191).http_status, 431);
    // Endless empty lines are bounded too.
    expect_error(std::string(9000, '\n'), 400);
    std::string crlfs;
    for (int i = 0; i < 5000; ++i) crlfs.append("\r\n");
    expect_error(crlfs, 431);
}

}  // namespace
}  // namespace chorus::ws
