// Tests for the join-request parser: dev-mode identity and names, JWT identity and its refusals,
// last_seq, and resume tokens (valid, forged, for another user).
#include "core/join_request.h"

#include <gtest/gtest.h>

#include "core/auth/jwt.h"
#include "core/auth/resume_token.h"
#include "ws/http_request.h"

namespace chorus::core {
namespace {

constexpr std::string_view key = "0123456789abcdef0123456789abcdef";

struct parsed {
    join_refusal refusal;
    join_request request;
};

parsed parse(std::string_view query, std::string_view auth_secret = {}) {
    std::string head =
        "GET /v1/rooms/lobby?" + std::string(query) +
        " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: chorus.v1\r\n\r\n";
    ws::parse_outcome outcome = ws::parse_http_request(head, 8192);
    EXPECT_EQ(outcome.status, ws::parse_status::complete);
    parsed out;
    out.refusal = parse_join_request(outcome.request, "lobby", {auth_secret, key, 1'700'000'000},
                                     &out.request);
    return out;
}

TEST(JoinRequest, DevModeTakesUserAndNameFromTheQuery) {
    parsed p = parse("user=ann&name=Ann%20B&last_seq=7");
    EXPECT_EQ(p.refusal.status, 0);
    EXPECT_EQ(p.request.room, "lobby");
    EXPECT_EQ(p.request.user, "ann");
    EXPECT_EQ(p.request.name, "Ann B");
    EXPECT_TRUE(p.request.has_last_seq);
    EXPECT_EQ(p.request.last_seq, 7u);
    EXPECT_TRUE(p.request.chorus_v1);
    EXPECT_FALSE(p.request.resume);
}

TEST(JoinRequest, TheNameDefaultsToTheUser) {
    EXPECT_EQ(parse("user=ann").request.name, "ann");
}

TEST(JoinRequest, BadInputIsRefusedWithItsStatus) {
    EXPECT_EQ(parse("").refusal.status, 400);
    EXPECT_EQ(parse("user=a%20b").refusal.status, 400);
    EXPECT_EQ(parse("user=ann&name=%zz").refusal.status, 400);
    EXPECT_EQ(parse("user=ann&name=a%01b").refusal.status, 400);
    EXPECT_EQ(parse("user=ann&last_seq=-1").refusal.status, 400);
    EXPECT_EQ(parse("user=ann&last_seq=").refusal.status, 400);
}

TEST(JoinRequest, AResumeTokenForThisRoomAndUserIsRead) {
    std::string token = make_resume_token(key, "lobby", "ann", {5, 99, 1'700'000'000});
    parsed p = parse("user=ann&resume=" + token);
    EXPECT_EQ(p.refusal.status, 0);
    EXPECT_TRUE(p.request.resume);
    EXPECT_EQ(p.request.resume_member, 5u);
    EXPECT_EQ(p.request.resume_session, 99u);
}

TEST(JoinRequest, AResumeTokenThatDoesNotVerifyIsAnOrdinaryJoin) {
    std::string token = make_resume_token(key, "lobby", "ann", {5, 99, 1'700'000'000});
    for (std::string query : {std::string("user=ann&resume=forged"), "user=bob&resume=" + token}) {
        parsed p = parse(query);
        EXPECT_EQ(p.refusal.status, 0);
        EXPECT_TRUE(p.request.resume_asked);
        EXPECT_FALSE(p.request.resume);
    }
}

TEST(JoinRequest, WithAnAuthSecretTheTokenDecides) {
    std::string secret = "a-secret-of-enough-bytes";
    EXPECT_EQ(parse("user=ann", secret).refusal.status, 401);
    std::string other = sign_jwt_hs256(R"({"sub":"ann","room":"other","exp":1800000000})", secret);
    EXPECT_EQ(parse("token=" + other, secret).refusal.status, 403);
    std::string good = sign_jwt_hs256(
        R"({"sub":"ann","room":"lobby","exp":1800000000,"admin":true,"speak":false})", secret);
    parsed p = parse("token=" + good, secret);
    EXPECT_EQ(p.refusal.status, 0);
    EXPECT_EQ(p.request.user, "ann");
    EXPECT_TRUE(p.request.admin);
    EXPECT_FALSE(p.request.speak);
    EXPECT_EQ(parse("token=" + good, "another-secret").refusal.status, 401);
}

TEST(JoinRequest, DevModeAdminComesFromTheQuery) {
    EXPECT_TRUE(parse("user=ann&admin=1").request.admin);
    EXPECT_FALSE(parse("user=ann&admin=0").request.admin);
    EXPECT_FALSE(parse("user=ann").request.admin);
    for (std::string bad : {"true", "2", "", "01"})
        EXPECT_EQ(parse("user=ann&admin=" + bad).refusal.status, 400) << bad;
}

TEST(JoinRequest, WithAuthOnTheQuerysAdminIsIgnored) {
    std::string secret = "a-secret-of-enough-bytes";
    std::string plain = sign_jwt_hs256(R"({"sub":"ann","room":"lobby","exp":1800000000})", secret);
    for (std::string value : {"1", "junk"}) {
        parsed p = parse("token=" + plain + "&admin=" + value, secret);
        EXPECT_EQ(p.refusal.status, 0);
        EXPECT_FALSE(p.request.admin);
    }
}

}  // namespace
}  // namespace chorus::core
