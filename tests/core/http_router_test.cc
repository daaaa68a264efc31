// Tests for the HTTP router: methods, room ids, upgrades and origins, draining, the echo switch,
// the plain endpoints, static files and the admin check of /v1/rooms. No sockets.
#include "core/http_router.h"

#include <gtest/gtest.h>

#include "core/auth/jwt.h"

namespace chorus::core {
namespace {

constexpr std::string_view upgrade_headers =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nOrigin: https://a.example\r\n";

struct request_head {
    std::string bytes;
    ws::http_request request;
    request_head(std::string_view method, std::string_view target, bool upgrade,
                 std::string_view extra = {}) {
        bytes = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n" +
                std::string(upgrade ? upgrade_headers : "") + std::string(extra) + "\r\n";
        ws::parse_outcome outcome = ws::parse_http_request(bytes, 8192);
        EXPECT_EQ(outcome.status, ws::parse_status::complete);
        request = outcome.request;
    }
};

// The route's kind and status (its views point into a request that is gone on return).
http_route route(std::string_view method, std::string_view target, bool upgrade,
                 router_options options = {}) {
    request_head head(method, target, upgrade);
    return route_request(head.request, options);
}

TEST(HttpRouter, ARoomUpgradeGoesToItsRoom) {
    request_head head("GET", "/v1/rooms/lobby?user=a", true);
    http_route r = route_request(head.request, {});
    EXPECT_EQ(r.kind, route_kind::room);
    EXPECT_EQ(r.room, "lobby");  // a view into the request
}

// A plain GET of a room URL is validated as a join before its 426 (issue 13, bug 6): the
// route says so, and keeps the room and the 426 for a join that would be accepted.
TEST(HttpRouter, APlainGetOfARoomIsCheckedAsAJoin) {
    request_head head("GET", "/v1/rooms/lobby?user=a", false);
    http_route r = route_request(head.request, {});
    EXPECT_EQ(r.kind, route_kind::room_check);
    EXPECT_EQ(r.room, "lobby");
    EXPECT_EQ(r.status, 426);
    EXPECT_EQ(r.code, "upgrade_required");
    // A malformed upgrade, a bad room id and a refused origin are refused as before.
    request_head bad_key("GET", "/v1/rooms/lobby?user=a", false,
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n");
    EXPECT_EQ(route_request(bad_key.request, {}).kind, route_kind::refuse);
    EXPECT_EQ(route("GET", "/v1/rooms/bad!id", false).kind, route_kind::refuse);
    std::vector<std::string> origins = {"https://b.example"};
    router_options options;
    options.allowed_origins = &origins;
    request_head foreign("GET", "/v1/rooms/lobby?user=a", false, "Origin: https://a.example\r\n");
    EXPECT_EQ(route_request(foreign.request, options).status, 403);
    // Not a room URL: the echo endpoint's plain GET is still a bare 426.
    router_options echo;
    echo.echo = true;
    EXPECT_EQ(route("GET", "/v1/echo", false, echo).kind, route_kind::refuse);
}

TEST(HttpRouter, RefusalsCarryTheirStatus) {
    EXPECT_EQ(route("POST", "/v1/rooms/lobby", true).status, 405);
    EXPECT_EQ(route("GET", "/v1/rooms/bad!id", true).status, 400);
    EXPECT_EQ(route("GET", "/v1/rooms/", true).status, 400);
    EXPECT_EQ(route("GET", "/v1/rooms/lobby", false).status, 426);
    router_options draining;
    draining.draining = true;
    EXPECT_EQ(route("GET", "/v1/rooms/lobby", true, draining).status, 503);
    EXPECT_EQ(route("GET", "/v1/echo", true, draining).status, 503);
    EXPECT_EQ(route("GET", "/healthz", false, draining).kind, route_kind::healthz);
}

TEST(HttpRouter, OnlyAllowedOriginsMayUpgrade) {
    std::vector<std::string> origins = {"https://b.example"};
    router_options options;
    options.allowed_origins = &origins;
    EXPECT_EQ(route("GET", "/v1/rooms/lobby", true, options).status, 403);
    origins.push_back("https://a.example");
    EXPECT_EQ(route("GET", "/v1/rooms/lobby", true, options).kind, route_kind::room);
}

TEST(HttpRouter, TheEchoEndpointIsThereOnlyWhenEnabled) {
    EXPECT_EQ(route("GET", "/v1/echo", true).kind, route_kind::file);
    router_options echo;
    echo.echo = true;
    EXPECT_EQ(route("GET", "/v1/echo", true, echo).kind, route_kind::echo);
}

TEST(HttpRouter, PlainEndpointsAndFiles) {
    EXPECT_EQ(route("GET", "/healthz", false).kind, route_kind::healthz);
    EXPECT_EQ(route("GET", "/metrics", false).kind, route_kind::metrics);
    EXPECT_EQ(route("GET", "/v1/rooms", false).kind, route_kind::rooms_listing);
    EXPECT_EQ(route("HEAD", "/", false).kind, route_kind::file);
}

TEST(HttpRouter, FilesComeFromTheBinaryAndUnknownPathsAre404) {
    request_head index("GET", "/", false);
    http_reply page = serve_file(index.request, "");
    EXPECT_EQ(page.status, 200);
    EXPECT_FALSE(page.body.empty());
    EXPECT_EQ(page.content_type.substr(0, 9), "text/html");
    request_head head("HEAD", "/", false);
    EXPECT_TRUE(serve_file(head.request, "").body.empty());
    request_head missing("GET", "/nope.txt", false);
    EXPECT_EQ(serve_file(missing.request, "").status, 404);
    request_head escape("GET", "/../etc/passwd", false);
    EXPECT_EQ(serve_file(escape.request, "").status, 404);
    request_head malformed("GET", "/%zz", false);
    EXPECT_EQ(serve_file(malformed.request, "").status, 400);
}

TEST(HttpRouter, TheRoomsListingNeedsAnAdminTokenWithASecret) {
    std::string_view message;
    request_head open("GET", "/v1/rooms", false);
    EXPECT_EQ(check_admin(open.request, "", 1'700'000'000, &message), 0);
    std::string secret = "a-secret-of-enough-bytes";
    EXPECT_EQ(check_admin(open.request, secret, 1'700'000'000, &message), 401);
    std::string user = sign_jwt_hs256(R"({"sub":"a","room":"*","exp":1800000000})", secret);
    request_head not_admin("GET", "/v1/rooms?token=" + user, false);
    EXPECT_EQ(check_admin(not_admin.request, secret, 1'700'000'000, &message), 403);
    std::string admin =
        sign_jwt_hs256(R"({"sub":"a","room":"*","exp":1800000000,"admin":true})", secret);
    request_head bearer("GET", "/v1/rooms", false, "Authorization: Bearer " + admin + "\r\n");
    EXPECT_EQ(check_admin(bearer.request, secret, 1'700'000'000, &message), 0);
}

}  // namespace
}  // namespace chorus::core
