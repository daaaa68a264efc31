// Resume tokens: round trip, binding to room and user and key, and rejection of every altered,
// truncated or non-url-safe form.
#include "core/auth/resume_token.h"

#include <gtest/gtest.h>

#include <string>

namespace chorus::core {
namespace {

const std::string key = random_key();
constexpr resume_claims sample{4'000'000'001u, 0x0123456789abcdefULL, 1'700'000'000};

TEST(ResumeToken, RoundTrip) {
    std::string token = make_resume_token(key, "lobby", "alice", sample);
    EXPECT_EQ(token.size(), resume_token_chars);
    EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_"),
              std::string::npos);
    auto claims = verify_resume_token(key, token, "lobby", "alice");
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->member, sample.member);
    EXPECT_EQ(claims->session, sample.session);
    EXPECT_EQ(claims->issued_unix, sample.issued_unix);

    resume_claims negative{1, 0, -5};
    auto back = verify_resume_token(key, make_resume_token(key, "r", "u", negative), "r", "u");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->issued_unix, -5);
}

TEST(ResumeToken, BoundToRoomUserAndKey) {
    std::string token = make_resume_token(key, "lobby", "alice", sample);
    EXPECT_FALSE(verify_resume_token(key, token, "lobby2", "alice"));
    EXPECT_FALSE(verify_resume_token(key, token, "lobby", "bob"));
    EXPECT_FALSE(verify_resume_token(key, token, "alice", "lobby"));
    EXPECT_FALSE(verify_resume_token(random_key(), token, "lobby", "alice"));
    EXPECT_FALSE(verify_resume_token("", token, "lobby", "alice"));
    // Moving a byte between room and user must not keep the MAC valid.
    std::string split = make_resume_token(key, "ab", "c", sample);
    EXPECT_FALSE(verify_resume_token(key, split, "a", "bc"));
}

TEST(ResumeToken, EveryFlippedBitFails) {
    std::string token = make_resume_token(key, "lobby", "alice", sample);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < token.size(); i++) {
        for (int bit = 0; bit < 6; bit++) {
            std::string altered = token;
            size_t sextet = alphabet.find(token[i]);
            altered[i] = alphabet[sextet ^ (1u << bit)];
            EXPECT_FALSE(verify_resume_token(key, altered, "lobby", "alice"))
                << "char " << i << " bit " << bit;
        }
    }
}

TEST(ResumeToken, RejectsTruncatedGarbageAndNonUrlSafe) {
    std::string token = make_resume_token(key, "lobby", "alice", sample);
    EXPECT_FALSE(verify_resume_token(key, token.substr(0, token.size() - 1), "lobby", "alice"));
    EXPECT_FALSE(verify_resume_token(key, token + "A", "lobby", "alice"));
    EXPECT_FALSE(verify_resume_token(key, "", "lobby", "alice"));
    EXPECT_FALSE(verify_resume_token(key, std::string(50, 'A'), "lobby", "alice"));
    EXPECT_FALSE(verify_resume_token(key, std::string(5000, 'x'), "lobby", "alice"));
    EXPECT_FALSE(verify_resume_token(key, "not a token at all", "lobby", "alice"));
    std::string plus = token;
    plus[10] = '+';
    EXPECT_FALSE(verify_resume_token(key, plus, "lobby", "alice"));
    std::string slash = token;
    slash[10] = '/';
    EXPECT_FALSE(verify_resume_token(key, slash, "lobby", "alice"));
    std::string percent = token;
    percent[0] = '%';
    EXPECT_FALSE(verify_resume_token(key, percent, "lobby", "alice"));
    std::string padded = token.substr(0, token.size() - 2) + "==";
    EXPECT_FALSE(verify_resume_token(key, padded, "lobby", "alice"));
}

TEST(ResumeToken, RandomKeys) {
    std::string a = random_key();
    std::string b = random_key();
    EXPECT_EQ(a.size(), 32u);
    EXPECT_NE(a, b);
    EXPECT_EQ(random_key(16).size(), 16u);
    EXPECT_EQ(random_key(0).size(), 0u);
}

}  // namespace
}  // namespace chorus::core
