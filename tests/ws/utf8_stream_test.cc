// Tests for streaming UTF-8 validation (utf8_prefix_error, utf8_ends_whole): text fed in 1, 2, 3
// and one-byte pieces is accepted whole when valid, and refused at exactly the earliest byte that
// no continuation can repair, in the piece that holds that byte and never later.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/utf8.h"

namespace chorus::ws {
namespace {

constexpr size_t whole_text = SIZE_MAX;      // expected error: none, the text is valid
constexpr size_t at_the_end = SIZE_MAX - 1;  // expected error: a character left unfinished

struct stream_case {
    std::string text;
    size_t error;  // offset of the first byte that makes the text hopeless, or one of the above
};

const std::vector<stream_case>& cases() {
    static const std::vector<stream_case> all = {
        {"", whole_text},
        {"hello", whole_text},
        {std::string(1, '\0'), whole_text},
        {"\xC2\x80", whole_text},                                      // U+0080
        {"\xDF\xBF", whole_text},                                      // U+07FF
        {"\xE0\xA0\x80", whole_text},                                  // U+0800
        {"\xED\x9F\xBF", whole_text},                                  // U+D7FF
        {"\xEE\x80\x80", whole_text},                                  // U+E000
        {"\xEF\xBF\xBF", whole_text},                                  // U+FFFF
        {"\xF0\x90\x80\x80", whole_text},                              // U+10000
        {"\xF4\x8F\xBF\xBF", whole_text},                              // U+10FFFF
        {"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", whole_text},  // "κόσμε"
        {"a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8E\xA4z\xF3\xA0\x80\x81", whole_text},
        // Bytes that never start a character.
        {"\xFF", 0},
        {"ab\xFE", 2},
        {"\xF5\x80\x80\x80", 0},
        {"\xF8\x88\x80\x80\x80", 0},
        {"\xC0\x80", 0},
        {"x\xC1\xBF", 1},
        {"ab\x80", 2},
        {"\xE2\x82\xAC\x80", 3},
        // Overlongs: the second byte already rules them out.
        {"\xE0\x80\x80", 1},
        {"\xE0\x9F\xBF", 1},
        {"\xF0\x80\x80\x80", 1},
        {"\xF0\x8F\xBF\xBF", 1},
        // Surrogates and code points above U+10FFFF.
        {"\xED\xA0\x80", 1},
        {"\xED\xBF\xBF", 1},
        {"a\xED\xA0\x80\xED\xB0\x80", 2},
        {"\xF4\x90\x80\x80", 1},
        {"\xF4\xBF\xBF\xBF", 1},
        // Autobahn 6.4.1-6.4.4: "κόσμε", U+110000 encoded, "edited".
        {"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xF4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
         12},
        // A character cut short by the next one.
        {"\xC3\x41", 1},
        {"\xC3\xC3\xA9", 1},
        {"\xE2\x82\x41", 2},
        {"\xE2\x41\x82", 1},
        {"\xF0\x9F\x8E\x41", 3},
        {"\xF0\x9F\xF0\x9F\x8E\xA4", 2},
        // Valid beginnings that the message then ends inside.
        {"\xC3", at_the_end},
        {"caf\xC3", at_the_end},
        {"\xE2\x82", at_the_end},
        {"\xE0\xA0", at_the_end},
        {"\xED\x9F", at_the_end},
        {"\xF0\x9F\x8E", at_the_end},
        {"\xF4\x8F\xBF", at_the_end},
        {"\xF0", at_the_end},
    };
    return all;
}

const uint8_t* bytes(const std::string& text) {
    return reinterpret_cast<const uint8_t*>(text.data());
}

// Feeds text cut at `cuts` (ascending) and checks every call against the expected error: calls
// for pieces before the bad byte accept, the call for the piece holding it reports its offset.
void check_split(const stream_case& c, const std::vector<size_t>& cuts) {
    std::vector<size_t> ends = cuts;
    ends.push_back(c.text.size());
    size_t checked = 0;
    for (size_t end : ends) {
        const size_t error = utf8_prefix_error(bytes(c.text), checked, end);
        const bool bad_byte_in_piece = c.error < at_the_end && c.error < end;
        if (bad_byte_in_piece) {
            ASSERT_EQ(error, c.error) << "piece [" << checked << ", " << end << ")";
            return;
        }
        ASSERT_EQ(error, utf8_prefix_ok) << "piece [" << checked << ", " << end << ")";
        checked = end;
    }
    EXPECT_EQ(utf8_ends_whole(bytes(c.text), c.text.size()), c.error == whole_text);
}

std::string describe(const std::string& text) {
    std::string out;
    for (unsigned char byte : text) out += " " + std::to_string(byte);
    return out;
}

TEST(Utf8Stream, WholeTextAgreesWithTheValidator) {
    for (const stream_case& c : cases()) {
        const size_t error = utf8_prefix_error(bytes(c.text), 0, c.text.size());
        const bool whole = error == utf8_prefix_ok && utf8_ends_whole(bytes(c.text), c.text.size());
        EXPECT_EQ(whole, valid_utf8(c.text)) << describe(c.text);
        EXPECT_EQ(whole, c.error == whole_text) << describe(c.text);
    }
}

TEST(Utf8Stream, EveryTwoPieceSplit) {
    for (const stream_case& c : cases()) {
        for (size_t cut = 0; cut <= c.text.size(); ++cut) {
            SCOPED_TRACE(describe(c.text) + " cut at " + std::to_string(cut));
            check_split(c, {cut});
        }
    }
}

TEST(Utf8Stream, EveryThreePieceSplit) {
    for (const stream_case& c : cases()) {
        for (size_t a = 0; a <= c.text.size(); ++a) {
            for (size_t b = a; b <= c.text.size(); ++b) {
                SCOPED_TRACE(describe(c.text) + " cuts at " + std::to_string(a) + ", " +
                             std::to_string(b));
                check_split(c, {a, b});
            }
        }
    }
}

TEST(Utf8Stream, OneByteAtATime) {
    for (const stream_case& c : cases()) {
        std::vector<size_t> cuts;
        for (size_t i = 1; i < c.text.size(); ++i) cuts.push_back(i);
        SCOPED_TRACE(describe(c.text));
        check_split(c, cuts);
    }
}

TEST(Utf8Stream, BadByteFarIntoLongTextIsFoundExactly) {
    // Long enough for the SIMD path, with a byte that never occurs in UTF-8 at every offset of a
    // 64-byte block, over leads and continuation bytes alike.
    std::string text;
    while (text.size() < 300) text += "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8E\xA4";
    for (size_t at = 200; at < 264; ++at) {
        std::string bad = text;
        bad[at] = '\xFF';
        EXPECT_EQ(utf8_prefix_error(bytes(bad), 0, bad.size()), at);
        EXPECT_EQ(utf8_prefix_error(bytes(bad), 100, bad.size()), at);
        EXPECT_EQ(utf8_prefix_error(bytes(bad), 0, at), utf8_prefix_ok) << at;
    }
}

// Continuation bytes that reach every second-byte range boundary.
bool completable(const std::string& text) {
    if (utf8_prefix_error(bytes(text), 0, text.size()) != utf8_prefix_ok) return false;
    if (utf8_ends_whole(bytes(text), text.size())) return true;
    const char tails[] = {'\x80', '\x8F', '\x90', '\x9F', '\xA0', '\xBF'};
    for (char a : tails) {
        for (char b : tails) {
            for (char c : tails) {
                for (const std::string& end :
                     {std::string{a}, std::string{a, b}, std::string{a, b, c}}) {
                    if (valid_utf8(text + end)) return true;
                }
            }
        }
    }
    return false;
}

TEST(Utf8Stream, AcceptedPrefixesCanBeCompletedAndRefusedOnesCannot) {
    // Every 1-3 byte string over bytes at the edges of each range: a text is accepted exactly
    // when some continuation makes it valid, and the reported byte is the first hopeless one.
    const uint8_t interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                   0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    std::vector<std::string> texts{""};
    for (int length = 1; length <= 3; ++length) {
        std::vector<std::string> longer;
        for (const std::string& t : texts) {
            if (t.size() + 1 != static_cast<size_t>(length)) continue;
            for (uint8_t byte : interesting) longer.push_back(t + static_cast<char>(byte));
        }
        texts.insert(texts.end(), longer.begin(), longer.end());
    }
    for (const std::string& text : texts) {
        const size_t error = utf8_prefix_error(bytes(text), 0, text.size());
        if (error == utf8_prefix_ok) {
            ASSERT_TRUE(completable(text)) << describe(text);
            continue;
        }
        ASSERT_LT(error, text.size()) << describe(text);
        ASSERT_TRUE(completable(text.substr(0, error))) << describe(text);
        ASSERT_FALSE(completable(text.substr(0, error + 1))) << describe(text);
    }
}

}  // namespace
}  // namespace chorus::ws
