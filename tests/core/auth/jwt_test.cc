// verify_jwt: valid tokens, expiry and leeway edges, algorithm confusion (none, HS512, missing
// alg), signature and payload tampering, claim presence and types, and structural junk.
#include "core/auth/jwt.h"

#include <gtest/gtest.h>

#include <string>

#include "core/auth/hmac.h"
#include "core/base/base64.h"

namespace chorus::core {
namespace {

constexpr std::string_view secret = "test-secret-with-enough-bytes-123";
constexpr int64_t now = 1'700'000'000;

// Builds a token with any header, signed with HS256 over the encoded parts.
std::string token_with_header(std::string_view header, std::string_view payload,
                              std::string_view key = secret) {
    std::string token = base::base64url_encode(header) + "." + base::base64url_encode(payload);
    hmac_sha256_digest mac = hmac_sha256(key, token);
    return token + "." +
           base::base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), 32));
}

std::string payload(std::string_view extra = "") {
    std::string json = R"({"sub":"alice","room":"lobby","exp":)" + std::to_string(now + 60);
    if (!extra.empty()) json += std::string(",") + std::string(extra);
    return json + "}";
}

token_error error_of(std::string_view token, int64_t at = now) {
    auto result = verify_jwt(token, secret, at);
    EXPECT_FALSE(result.ok()) << token;
    return result.ok() ? token_error::malformed : result.error();
}

TEST(Jwt, ValidTokenYieldsClaims) {
    auto result = verify_jwt(sign_jwt_hs256(payload(), secret), secret, now);
    ASSERT_TRUE(result.ok()) << token_error_text(result.error());
    const token_claims& claims = result.value();
    EXPECT_EQ(claims.user, "alice");
    EXPECT_EQ(claims.room, "lobby");
    EXPECT_FALSE(claims.has_name);
    EXPECT_EQ(claims.name, "");
    EXPECT_EQ(claims.expires, now + 60);
    EXPECT_TRUE(claims.speak);
    EXPECT_FALSE(claims.admin);
}

TEST(Jwt, OptionalClaims) {
    std::string json = payload(R"("name":"Alice \u00e9","speak":false,"admin":true,"iat":1,)"
                               R"("aud":["x"],"nested":{"a":[1,2,{"b":null}]})");
    auto result = verify_jwt(sign_jwt_hs256(json, secret), secret, now);
    ASSERT_TRUE(result.ok()) << token_error_text(result.error());
    EXPECT_TRUE(result.value().has_name);
    EXPECT_EQ(result.value().name, "Alice \xc3\xa9");
    EXPECT_FALSE(result.value().speak);
    EXPECT_TRUE(result.value().admin);
}

TEST(Jwt, TypIsOptionalAndHeaderOrderFree) {
    EXPECT_TRUE(verify_jwt(token_with_header(R"({"alg":"HS256"})", payload()), secret, now).ok());
    EXPECT_TRUE(verify_jwt(token_with_header(R"({ "typ" : "jwt", "alg" : "HS256" })", payload()),
                           secret, now)
                    .ok());
}

TEST(Jwt, ExpiryWithLeewayEdge) {
    std::string token = sign_jwt_hs256(R"({"sub":"a","room":"r","exp":1000})", secret);
    EXPECT_TRUE(verify_jwt(token, secret, 1000).ok());
    EXPECT_TRUE(verify_jwt(token, secret, 1005).ok());  // exp == now - leeway
    EXPECT_EQ(verify_jwt(token, secret, 1006).error(), token_error::expired);
    EXPECT_EQ(verify_jwt(token, secret, 1001, 0).error(), token_error::expired);
    EXPECT_TRUE(verify_jwt(token, secret, 1000, 0).ok());
    EXPECT_EQ(verify_jwt(token, secret, 1001, -5).error(), token_error::expired);
    std::string ancient =
        sign_jwt_hs256(R"({"sub":"a","room":"r","exp":-9223372036854775808})", secret);
    EXPECT_EQ(verify_jwt(ancient, secret, now).error(), token_error::expired);
}

TEST(Jwt, OnlyHs256IsAccepted) {
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"none","typ":"JWT"})", payload())),
              token_error::bad_algorithm);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"HS512"})", payload())),
              token_error::bad_algorithm);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"hs256"})", payload())),
              token_error::bad_algorithm);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"RS256"})", payload())),
              token_error::bad_algorithm);
    EXPECT_EQ(error_of(token_with_header(R"({"typ":"JWT"})", payload())),
              token_error::bad_algorithm);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":null})", payload())),
              token_error::bad_algorithm);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":["HS256"]})", payload())),
              token_error::bad_algorithm);
    // An unsigned "none" token with an empty signature part.
    std::string none =
        base::base64url_encode(R"({"alg":"none"})") + "." + base::base64url_encode(payload()) + ".";
    EXPECT_EQ(error_of(none), token_error::bad_algorithm);
}

TEST(Jwt, HeaderTricksAreMalformed) {
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"HS256","alg":"none"})", payload())),
              token_error::malformed);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"HS256","crit":["exp"]})", payload())),
              token_error::malformed);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"HS256"} {})", payload())),
              token_error::malformed);
    EXPECT_EQ(error_of(token_with_header(R"(["HS256"])", payload())), token_error::malformed);
    EXPECT_EQ(error_of(token_with_header("not json", payload())), token_error::malformed);
    EXPECT_EQ(error_of(token_with_header(R"({"alg":"HS256")", payload())), token_error::malformed);
}

TEST(Jwt, BadSignature) {
    std::string token = sign_jwt_hs256(payload(), "another-secret");
    EXPECT_EQ(error_of(token), token_error::bad_signature);
    EXPECT_EQ(verify_jwt(sign_jwt_hs256(payload(), secret), "", now).error(),
              token_error::bad_signature);
    std::string good = sign_jwt_hs256(payload(), secret);
    std::string no_signature = good.substr(0, good.rfind('.') + 1);
    EXPECT_EQ(error_of(no_signature), token_error::bad_signature);
    std::string short_signature = good.substr(0, good.size() - 4);
    EXPECT_EQ(error_of(short_signature), token_error::bad_signature);
    std::string flipped = good;
    flipped[flipped.size() - 2] = flipped[flipped.size() - 2] == 'A' ? 'B' : 'A';
    EXPECT_EQ(error_of(flipped), token_error::bad_signature);
}

TEST(Jwt, TamperedPayloadFails) {
    std::string good = sign_jwt_hs256(payload(), secret);
    std::string forged = sign_jwt_hs256(payload(R"("admin":true)"), "attacker");
    size_t dot1 = good.find('.');
    size_t dot2 = good.rfind('.');
    size_t forged_dot1 = forged.find('.');
    size_t forged_dot2 = forged.rfind('.');
    // The forged payload with the genuine signature.
    std::string spliced = good.substr(0, dot1 + 1) +
                          forged.substr(forged_dot1 + 1, forged_dot2 - forged_dot1 - 1) +
                          good.substr(dot2);
    EXPECT_EQ(error_of(spliced), token_error::bad_signature);
}

TEST(Jwt, RoomCheck) {
    auto result = verify_jwt(sign_jwt_hs256(payload(), secret), secret, now);
    ASSERT_TRUE(result.ok());
    EXPECT_TRUE(token_allows_room(result.value(), "lobby"));
    EXPECT_FALSE(token_allows_room(result.value(), "other"));
    EXPECT_FALSE(token_allows_room(result.value(), "lobby2"));
    EXPECT_FALSE(token_allows_room(result.value(), ""));
    auto any = verify_jwt(
        sign_jwt_hs256(R"({"sub":"a","room":"*","exp":)" + std::to_string(now) + "}", secret),
        secret, now);
    ASSERT_TRUE(any.ok());
    EXPECT_TRUE(token_allows_room(any.value(), "anything"));
}

TEST(Jwt, MissingClaims) {
    std::string e = std::to_string(now + 60);
    EXPECT_EQ(error_of(sign_jwt_hs256(R"({"room":"r","exp":)" + e + "}", secret)),
              token_error::missing_claim);
    EXPECT_EQ(error_of(sign_jwt_hs256(R"({"sub":"a","exp":)" + e + "}", secret)),
              token_error::missing_claim);
    EXPECT_EQ(error_of(sign_jwt_hs256(R"({"sub":"a","room":"r"})", secret)),
              token_error::missing_claim);
    EXPECT_EQ(error_of(sign_jwt_hs256("{}", secret)), token_error::missing_claim);
}

TEST(Jwt, WrongClaimTypesAreMalformed) {
    std::string e = std::to_string(now + 60);
    const std::string bad_payloads[] = {
        R"({"sub":7,"room":"r","exp":)" + e + "}",
        R"({"sub":"a","room":["r"],"exp":)" + e + "}",
        R"({"sub":"a","room":"r","exp":")" + e + "\"}",
        R"({"sub":"a","room":"r","exp":)" + e + ".5}",
        R"({"sub":"a","room":"r","exp":1e12})",
        R"({"sub":"a","room":"r","exp":99999999999999999999})",
        R"({"sub":"a","room":"r","exp":null})",
        R"({"sub":"a","room":"r","exp":)" + e + R"(,"speak":"yes"})",
        R"({"sub":"a","room":"r","exp":)" + e + R"(,"admin":1})",
        R"({"sub":"a","room":"r","exp":)" + e + R"(,"name":false})",
        // Invalid values.
        R"({"sub":"","room":"r","exp":)" + e + "}",
        R"({"sub":"a b","room":"r","exp":)" + e + "}",
        R"({"sub":"a/b","room":"r","exp":)" + e + "}",
        R"({"sub":")" + std::string(65, 'a') + R"(","room":"r","exp":)" + e + "}",
        R"({"sub":"a","room":"","exp":)" + e + "}",
        R"({"sub":"a","room":"**","exp":)" + e + "}",
        R"({"sub":"a","room":"r","exp":)" + e + R"(,"name":"a\nb"})",
        R"({"sub":"a","room":"r","exp":)" + e + R"(,"name":"a\u0085b"})",
        R"({"sub":"a","room":"r","exp":)" + e + R"(,"name":")" + std::string(65, 'n') + "\"}",
        R"({"sub":"a","room":"r","exp":)" + e + ",\"name\":\"\xff\"}",
        // Duplicates and structure.
        R"({"sub":"a","sub":"admin","room":"r","exp":)" + e + "}",
        R"({"sub":"a","room":"r","exp":)" + e + R"(,"admin":false,"admin":true})",
        R"({"sub":"a","room":"r","exp":)" + e + "} {}",
        R"({"sub":"a","room":"r","exp":)" + e,
        R"(["sub","a"])",
        R"("just a string")",
        "",
    };
    for (const std::string& json : bad_payloads) {
        EXPECT_EQ(error_of(sign_jwt_hs256(json, secret)), token_error::malformed) << json;
    }
    std::string max_name = payload(R"("name":")" + std::string(64, 'n') + "\"");
    EXPECT_TRUE(verify_jwt(sign_jwt_hs256(max_name, secret), secret, now).ok());
}

TEST(Jwt, StructuralJunkIsMalformed) {
    std::string good = sign_jwt_hs256(payload(), secret);
    const std::string junk[] = {
        "",
        ".",
        "..",
        "...",
        "abc",
        "a.b",
        good + ".",
        good + ".x",
        "." + good,
        good.substr(0, good.find('.')) + ".." + good.substr(good.rfind('.') + 1),
        "!!!." + good.substr(good.find('.') + 1),
        good.substr(0, good.find('.') + 1) + "***" + good.substr(good.rfind('.')),
        good.substr(0, good.rfind('.') + 1) + "+/+/",
        good + "=",
        std::string(jwt_bytes_max + 1, 'a'),
    };
    for (const std::string& token : junk) {
        EXPECT_EQ(error_of(token), token_error::malformed) << token;
    }
}

TEST(Jwt, ErrorTextsAreDistinct) {
    const token_error all[] = {token_error::malformed, token_error::bad_algorithm,
                               token_error::bad_signature, token_error::expired,
                               token_error::missing_claim};
    for (token_error a : all) {
        ASSERT_NE(token_error_text(a), nullptr);
        for (token_error b : all) {
            if (a != b) {
                EXPECT_STRNE(token_error_text(a), token_error_text(b));
            }
        }
    }
}

}  // namespace
}  // namespace chorus::core
