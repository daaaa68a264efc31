// Tests for UTF-8 validation: valid text, overlongs, surrogates, out-of-range and truncated input.
#include "ws/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace chorus::ws {
namespace {

bool valid(const std::string& s) {
    return valid_utf8(s);
}

TEST(Utf8, AcceptsValidText) {
    EXPECT_TRUE(valid(""));
    EXPECT_TRUE(valid("hello"));
    EXPECT_TRUE(valid(std::string(1, '\0')));
    EXPECT_TRUE(valid("\xC2\x80"));                                      // U+0080
    EXPECT_TRUE(valid("\xDF\xBF"));                                      // U+07FF
    EXPECT_TRUE(valid("\xE0\xA0\x80"));                                  // U+0800
    EXPECT_TRUE(valid("\xED\x9F\xBF"));                                  // U+D7FF
    EXPECT_TRUE(valid("\xEE\x80\x80"));                                  // U+E000
    EXPECT_TRUE(valid("\xEF\xBF\xBF"));                                  // U+FFFF
    EXPECT_TRUE(valid("\xF0\x90\x80\x80"));                              // U+10000
    EXPECT_TRUE(valid("\xF4\x8F\xBF\xBF"));                              // U+10FFFF
    EXPECT_TRUE(valid("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // "κόσμε"
    std::string long_text;
    for (int i = 0; i < 1000; ++i) long_text.append("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8E\xA4");
    EXPECT_TRUE(valid(long_text));
}

TEST(Utf8, RejectsOverlongs) {
    EXPECT_FALSE(valid("\xC0\x80"));
    EXPECT_FALSE(valid("\xC1\xBF"));
    EXPECT_FALSE(valid("\xE0\x80\x80"));
    EXPECT_FALSE(valid("\xE0\x9F\xBF"));
    EXPECT_FALSE(valid("\xF0\x80\x80\x80"));
    EXPECT_FALSE(valid("\xF0\x8F\xBF\xBF"));
}

TEST(Utf8, RejectsSurrogatesAndOutOfRange) {
    EXPECT_FALSE(valid("\xED\xA0\x80"));  // U+D800
    EXPECT_FALSE(valid("\xED\xBF\xBF"));  // U+DFFF
    EXPECT_FALSE(valid("\xED\xA0\x80\xED\xB0\x80"));
    EXPECT_FALSE(valid("\xF4\x90\x80\x80"));  // U+110000
    EXPECT_FALSE(valid("\xF5\x80\x80\x80"));
    EXPECT_FALSE(valid("\xFF"));
    EXPECT_FALSE(valid("\xFE"));
}

TEST(Utf8, RejectsTruncatedAndStrayBytes) {
    EXPECT_FALSE(valid("\xC3"));
    EXPECT_FALSE(valid("\xE2\x82"));
    EXPECT_FALSE(valid("\xF0\x9F\x8E"));
    EXPECT_FALSE(valid("a\x80"));
    EXPECT_FALSE(valid("\xC3\xC3\xA9"));
    std::string long_text(1000, 'a');
    long_text.push_back('\xE2');
    EXPECT_FALSE(valid(long_text));
}

TEST(Utf8, SequenceSizeAgreesWithValidator) {
    // Every 1-4 byte string from a set of interesting bytes: a lone sequence is valid exactly
    // when utf8_sequence_size says it spans the whole string.
    const uint8_t interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                   0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    const size_t n = sizeof(interesting);
    for (size_t a = 0; a < n; ++a) {
        for (size_t b = 0; b < n; ++b) {
            for (size_t c = 0; c < n; ++c) {
                for (size_t d = 0; d < n; ++d) {
                    const uint8_t bytes[4] = {interesting[a], interesting[b], interesting[c],
                                              interesting[d]};
                    for (size_t size = 1; size <= 4; ++size) {
                        const size_t sequence = utf8_sequence_size(bytes, size);
                        if (sequence == size) {
                            EXPECT_TRUE(valid_utf8(bytes, size));
                        }
                        if (sequence == 0) {
                            EXPECT_FALSE(valid_utf8(bytes, size));
                        }
                    }
                }
            }
        }
    }
}

}  // namespace
}  // namespace chorus::ws
