// base64url: RFC 4648 vectors, round trips over every length and byte, and strict rejects.
#include "core/base/base64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace chorus::base {
namespace {

TEST(Base64url, Rfc4648Vectors) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
    EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
    EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64url_decode("Zm9vYmE"), "fooba");
    EXPECT_EQ(base64url_decode("Zm9vYg"), "foob");
    EXPECT_EQ(base64url_decode(""), "");
}

TEST(Base64url, UsesUrlSafeAlphabet) {
    std::string bytes = "\xfb\xff\xbf";
    EXPECT_EQ(base64url_encode(bytes), "-_-_");
    EXPECT_EQ(base64url_decode("-_-_"), bytes);
}

TEST(Base64url, AcceptsPadding) {
    EXPECT_EQ(base64url_decode("Zg=="), "f");
    EXPECT_EQ(base64url_decode("Zm8="), "fo");
    EXPECT_EQ(base64url_decode("Zm9vYg=="), "foob");
}

TEST(Base64url, RoundTripsEveryLength) {
    std::mt19937 rng(1);
    for (size_t n = 0; n < 300; n++) {
        std::string bytes(n, '\0');
        for (auto& b : bytes) b = static_cast<char>(rng());
        std::string text = base64url_encode(bytes);
        EXPECT_EQ(text.size(), base64url_encoded_size(n));
        EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789-_"),
                  std::string::npos);
        EXPECT_EQ(base64url_decode(text), bytes) << n;
    }
    std::string all;
    for (int i = 0; i < 256; i++) all.push_back(static_cast<char>(i));
    EXPECT_EQ(base64url_decode(base64url_encode(all)), all);
}

TEST(Base64url, RejectsJunk) {
    const char* rejects[] = {
        "Z",         // one leftover character can not encode a byte
        "Zm9vY",     // likewise after a full group
        "Zm9v+g",    // standard alphabet, not url-safe
        "Zm9v/g",    //
        "Zm 9v",     // whitespace
        "Zm9v\n",    //
        "Zg=",       // partial padding
        "Zg===",     //
        "Z===",      //
        "====",      //
        "=",         //
        "Zg==Zg==",  // padding in the middle
        "Zm=8",      //
        "Zh",        // non-zero unused bits: non-canonical
        "Zm9",       // "fo" is Zm8; Zm9 has a stray low bit
        "Zm9vYh==",  //
        "\xc3\xa9",  // non-ASCII
    };
    for (const char* text : rejects) EXPECT_FALSE(base64url_decode(text)) << "'" << text << "'";
    EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4)));
}

}  // namespace
}  // namespace chorus::base
