// Tests for resolve_static_path: decoding, the "/" default, and refusal of every traversal form
// (plain, percent-encoded in either case, encoded slashes and backslashes, NUL, empty and "."
// segments), so that no request maps outside the web root.
#include "core/static_path.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace chorus::core {
namespace {

struct resolved {
    static_path_status status;
    std::string path;
};

resolved resolve(std::string_view request_path) {
    resolved r{static_path_status::ok, "<untouched>"};
    r.status = resolve_static_path(request_path, &r.path);
    return r;
}

TEST(StaticPath, RootIsIndex) {
    resolved r = resolve("/");
    EXPECT_EQ(r.status, static_path_status::ok);
    EXPECT_EQ(r.path, "/index.html");
    r = resolve("/%2f");  // decodes to "//": an empty segment
    EXPECT_EQ(r.status, static_path_status::forbidden);
}

TEST(StaticPath, PlainPaths) {
    const char* const paths[] = {
        "/index.html", "/app.js", "/css/site.css", "/a/b/c/d.txt", "/...",
        "/..a",        "/a..",    "/.hidden",      "/a.b.c",       "/-_~!$&'()*+,;=:@"};
    for (const char* path : paths) {
        resolved r = resolve(path);
        EXPECT_EQ(r.status, static_path_status::ok) << path;
        EXPECT_EQ(r.path, path);
    }
}

TEST(StaticPath, PercentDecoding) {
    EXPECT_EQ(resolve("/a%20b").path, "/a b");
    EXPECT_EQ(resolve("/%41%62%63").path, "/Abc");
    EXPECT_EQ(resolve("/%e2%9c%93").path, "/\xe2\x9c\x93");
    EXPECT_EQ(resolve("/a+b").path, "/a+b");  // '+' is literal
    EXPECT_EQ(resolve("/%2e%2e%2e").path, "/...");
    EXPECT_EQ(resolve("/%2Ehidden").path, "/.hidden");
}

TEST(StaticPath, MalformedEscapes) {
    const char* const paths[] = {"/%", "/%2", "/%zz", "/%g0", "/a%", "/%%", "/%2%2e"};
    for (const char* path : paths) {
        resolved r = resolve(path);
        EXPECT_EQ(r.status, static_path_status::malformed) << path;
        EXPECT_EQ(r.path, "<untouched>") << path;
    }
}

TEST(StaticPath, MustStartWithSlash) {
    const char* const paths[] = {"", "index.html", "..", "../x", "%2e%2e/x", "*"};
    for (const char* path : paths)
        EXPECT_EQ(resolve(path).status, static_path_status::malformed) << path;
}

TEST(StaticPath, DotDotSegments) {
    const char* const paths[] = {"/..",     "/../",         "/../etc/passwd", "/a/..",
                                 "/a/../b", "/a/b/../../c", "/a/../../x",     "/./x",
                                 "/a/./b",  "/.",           "/a/.",           "/a/../index.html"};
    for (const char* path : paths) {
        resolved r = resolve(path);
        EXPECT_EQ(r.status, static_path_status::forbidden) << path;
        EXPECT_EQ(r.path, "<untouched>") << path;
    }
}

TEST(StaticPath, EncodedTraversal) {
    const char* const paths[] = {
        "/%2e%2e",          "/%2E%2E",         "/%2e%2E/x",
        "/.%2e/x",          "/%2e./x",         "/a%2f..%2fb",
        "/a%2F..%2Fb",      "/a%2f%2e%2e%2fb", "/%2e%2e%2fetc",
        "/%2fetc%2fpasswd", "/a/%2e%2e",       "/%2e",
        "/..%2f..%2fetc",   "%2f..%2fetc",     "/x/%2e%2e/%2e%2e/etc/passwd",
    };
    for (const char* path : paths) {
        resolved r = resolve(path);
        EXPECT_EQ(r.status, static_path_status::forbidden) << path;
        EXPECT_EQ(r.path, "<untouched>") << path;
    }
}

TEST(StaticPath, BackslashAndNul) {
    const char* const paths[] = {
        "/a\\b",  "/..\\x", "/%5c..", "/%5C..%5Cx", "/a%5cb", "/%00", "/index.html%00.js",
        "/a%00/b"};
    for (const char* path : paths)
        EXPECT_EQ(resolve(path).status, static_path_status::forbidden) << path;
    std::string with_nul("/a\0b", 4);
    EXPECT_EQ(resolve(with_nul).status, static_path_status::forbidden);
}

TEST(StaticPath, EmptySegments) {
    const char* const paths[] = {"//", "//etc/passwd", "/a//b", "/a/", "/a/b/", "/%2f/etc"};
    for (const char* path : paths)
        EXPECT_EQ(resolve(path).status, static_path_status::forbidden) << path;
}

// Decoding happens once: a double-encoded dot stays a literal "%2e" in the file name, which can
// only name a file inside the root.
TEST(StaticPath, DoubleEncodingDecodesOnce) {
    resolved r = resolve("/%252e%252e/x");
    EXPECT_EQ(r.status, static_path_status::ok);
    EXPECT_EQ(r.path, "/%2e%2e/x");
    r = resolve("/%252e%252e%252fetc");
    EXPECT_EQ(r.status, static_path_status::ok);
    EXPECT_EQ(r.path, "/%2e%2e%2fetc");
    r = resolve("/a%255c..");
    EXPECT_EQ(r.status, static_path_status::ok);
    EXPECT_EQ(r.path, "/a%5c..");
}

// Overlong UTF-8 forms of '.' and '/' are just bytes to a Linux file system: no traversal.
TEST(StaticPath, OverlongUtf8IsNotADot) {
    resolved r = resolve("/%c0%ae%c0%ae/x");
    EXPECT_EQ(r.status, static_path_status::ok);
    EXPECT_EQ(r.path, "/\xc0\xae\xc0\xae/x");
    r = resolve("/..%c0%afetc");
    EXPECT_EQ(r.status, static_path_status::ok);
}

TEST(StaticPath, LongPaths) {
    std::string deep;
    for (int i = 0; i < 1000; ++i) deep += "/a";
    EXPECT_EQ(resolve(deep).path, deep);
    EXPECT_EQ(resolve(deep + "/..").status, static_path_status::forbidden);
    std::string encoded;
    for (int i = 0; i < 1000; ++i) encoded += "%61";
    EXPECT_EQ(resolve("/" + encoded).path, "/" + std::string(1000, 'a'));
}

}  // namespace
}  // namespace chorus::core
