// --redis URLs come from operators: every accepted shape fills the address exactly (credentials
// decoded), every malformed one is refused with a message, and no message repeats the password.
#include "core/cluster/redis_url.h"

#include <gtest/gtest.h>

#include <string>

namespace chorus::core::cluster {
namespace {

redis_address parsed(const std::string& url) {
    redis_address a;
    std::string error;
    EXPECT_TRUE(parse_redis_url(url, &a, &error)) << url << ": " << error;
    return a;
}

TEST(RedisUrl, HostAndPort) {
    redis_address a = parsed("redis://127.0.0.1:6390");
    EXPECT_EQ(a.host, "127.0.0.1");
    EXPECT_EQ(a.port, 6390);
    EXPECT_EQ(a.user, "");
    EXPECT_FALSE(a.has_credentials());
    a = parsed("redis://cache.internal/");
    EXPECT_EQ(a.host, "cache.internal");
    EXPECT_EQ(a.port, 6379);
    a = parsed("redis://[::1]:7000");
    EXPECT_EQ(a.host, "::1");
    EXPECT_EQ(a.port, 7000);
    a = parsed("redis://[fe80::1]");
    EXPECT_EQ(a.host, "fe80::1");
    EXPECT_EQ(a.port, 6379);
}

TEST(RedisUrl, Credentials) {
    redis_address a = parsed("redis://chorus:s3cret@redis.internal:6380");
    EXPECT_EQ(a.user, "chorus");
    EXPECT_EQ(a.password, "s3cret");
    EXPECT_EQ(a.host, "redis.internal");
    EXPECT_EQ(a.port, 6380);
    EXPECT_TRUE(a.has_credentials());
    // The default user with requirepass.
    a = parsed("redis://:hunter2@10.0.0.5:6379");
    EXPECT_EQ(a.user, "");
    EXPECT_EQ(a.password, "hunter2");
    EXPECT_EQ(a.host, "10.0.0.5");
    // Escaped and unescaped specials; the last '@' ends the credentials; ':' inside the password.
    a = parsed("redis://u%40x:p%3Aw%2F%25d@h:1");
    EXPECT_EQ(a.user, "u@x");
    EXPECT_EQ(a.password, "p:w/%d");
    a = parsed("redis://u:p@ss:w@h:2");
    EXPECT_EQ(a.user, "u");
    EXPECT_EQ(a.password, "p@ss:w");
    EXPECT_EQ(a.host, "h");
    EXPECT_EQ(a.port, 2);
    // A user alone: the password comes from --redis-password-file.
    a = parsed("redis://chorus@h");
    EXPECT_EQ(a.user, "chorus");
    EXPECT_FALSE(a.has_credentials());
    a = parsed("redis://u:pw@[::1]:9");
    EXPECT_EQ(a.password, "pw");
    EXPECT_EQ(a.host, "::1");
}

TEST(RedisUrl, RefusesMalformed) {
    for (const char* bad : {"",
                            "127.0.0.1:6379",
                            "rediss://h:6379",
                            "http://h",
                            "redis://",
                            "redis://:6379",
                            "redis://h:0",
                            "redis://h:65536",
                            "redis://h:x",
                            "redis://h:",
                            "redis://h:1/2",
                            "redis://h/0",
                            "redis://h:1:2",
                            "redis://@h",
                            "redis://:@h",
                            "redis://u:@h",
                            "redis://u:p%4@h",
                            "redis://u:p%zz@h",
                            "redis://u:p%0a@h",
                            "redis://u:p@",
                            "redis://[::1",
                            "redis://[::1]x",
                            "redis://[::1]:",
                            "redis://[]:1",
                            "redis://[h]:1",
                            "redis://h h:1",
                            "redis://h\n:1",
                            "redis://u:p@h:99999999999999999999"}) {
        redis_address a;
        a.host = "kept";
        std::string error;
        EXPECT_FALSE(parse_redis_url(bad, &a, &error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
        EXPECT_EQ(a.host, "kept") << bad;  // untouched on failure
    }
}

TEST(RedisUrl, MessagesNeverHoldThePassword) {
    for (const char* url : {"redis://u:topsecret@h:0", "redis://:topsecret@h/1",
                            "redis://u:topsecret@", "redis://u:topsecret%zz@h"}) {
        redis_address a;
        std::string error;
        EXPECT_FALSE(parse_redis_url(url, &a, &error)) << url;
        EXPECT_EQ(error.find("topsecret"), std::string::npos) << error;
        EXPECT_EQ(redact_redis_url(url).find("topsecret"), std::string::npos) << url;
    }
    EXPECT_EQ(redact_redis_url("redis://u:topsecret@h:1"), "redis://u:***@h:1");
    EXPECT_EQ(redact_redis_url("redis://:a@b@h:1"), "redis://:***@h:1");
    EXPECT_EQ(redact_redis_url("redis://h:1"), "redis://h:1");
    EXPECT_EQ(redact_redis_url("redis://u@h:1"), "redis://u@h:1");
}

}  // namespace
}  // namespace chorus::core::cluster
