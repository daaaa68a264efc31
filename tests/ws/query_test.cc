// Tests for query parameter lookup and RFC 3986 percent-decoding.
#include "ws/query.h"

#include <gtest/gtest.h>

namespace chorus::ws {
namespace {

std::string decoded(std::string_view in) {
    std::string out = "stale";
    EXPECT_TRUE(percent_decode(in, out)) << in;
    return out;
}

TEST(PercentDecode, DecodesEscapes) {
    EXPECT_EQ(decoded(""), "");
    EXPECT_EQ(decoded("plain"), "plain");
    EXPECT_EQ(decoded("Al%20ice"), "Al ice");
    EXPECT_EQ(decoded("%41%62%3d%3D"), "Ab==");
    EXPECT_EQ(decoded("a+b"), "a+b");  // '+' is literal
    EXPECT_EQ(decoded("%2B"), "+");
    EXPECT_EQ(decoded("%C3%A9t%C3%A9"), "\xC3\xA9t\xC3\xA9");
    EXPECT_EQ(decoded("%00"), std::string(1, '\0'));
    EXPECT_EQ(decoded("%ff%FF"), "\xff\xff");
    EXPECT_EQ(decoded("100%25"), "100%");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
    std::string out;
    EXPECT_FALSE(percent_decode("%", out));
    EXPECT_FALSE(percent_decode("a%2", out));
    EXPECT_FALSE(percent_decode("%G0", out));
    EXPECT_FALSE(percent_decode("%0g", out));
    EXPECT_FALSE(percent_decode("%%41", out));
    EXPECT_FALSE(percent_decode("ok%-1", out));
}

TEST(QueryParam, FindsRawValues) {
    const std::string_view query = "user=alice&name=Al%20ice&flag&empty=&user=bob";
    EXPECT_EQ(query_param(query, "user").value(), "alice");  // first wins
    EXPECT_EQ(query_param(query, "name").value(), "Al%20ice");
    EXPECT_EQ(query_param(query, "flag").value(), "");
    EXPECT_EQ(query_param(query, "empty").value(), "");
    EXPECT_FALSE(query_param(query, "missing").has_value());
    EXPECT_FALSE(query_param(query, "use").has_value());
    EXPECT_FALSE(query_param(query, "users").has_value());
    EXPECT_FALSE(query_param("", "user").has_value());
    EXPECT_EQ(query_param("a=b=c", "a").value(), "b=c");
    EXPECT_EQ(query_param("&&x=1&", "x").value(), "1");
    EXPECT_FALSE(query_param("User=a", "user").has_value());  // keys are case-sensitive
}

}  // namespace
}  // namespace chorus::ws
