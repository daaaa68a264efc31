// Tests for the frame encoder: header sizes and bytes for all three length forms, masking at
// every alignment against a byte-at-a-time reference, close frames, and round trips through
// message_reader.
#include "ws/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/ws/frame_test_util.h"
#include "ws/message_reader.h"

namespace chorus::ws {
namespace {

using testing::event_record;
using testing::read_all;

TEST(Frame, HeaderSizes) {
    EXPECT_EQ(frame_header_size(0, false), 2u);
    EXPECT_EQ(frame_header_size(125, false), 2u);
    EXPECT_EQ(frame_header_size(126, false), 4u);
    EXPECT_EQ(frame_header_size(65535, false), 4u);
    EXPECT_EQ(frame_header_size(65536, false), 10u);
    EXPECT_EQ(frame_header_size(uint64_t{1} << 40, true), 14u);
    EXPECT_EQ(frame_header_size(0, true), 6u);
}

TEST(Frame, EncodesAllLengthForms) {
    uint8_t header[frame_header_bytes_max];
    ASSERT_EQ(encode_frame_header(header, opcode::text, 5), 2u);
    EXPECT_EQ(header[0], 0x81);
    EXPECT_EQ(header[1], 0x05);
    ASSERT_EQ(encode_frame_header(header, opcode::binary, 126, false), 4u);
    EXPECT_EQ(header[0], 0x02);
    EXPECT_EQ(header[1], 126);
    EXPECT_EQ(header[2], 0x00);
    EXPECT_EQ(header[3], 126);
    ASSERT_EQ(encode_frame_header(header, opcode::binary, 65535), 4u);
    EXPECT_EQ(header[2], 0xFF);
    EXPECT_EQ(header[3], 0xFF);
    ASSERT_EQ(encode_frame_header(header, opcode::binary, 65536), 10u);
    EXPECT_EQ(header[1], 127);
    const uint8_t expected64[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    EXPECT_EQ(0, std::memcmp(header + 2, expected64, 8));
    const uint8_t key[4] = {1, 2, 3, 4};
    ASSERT_EQ(encode_frame_header(header, opcode::ping, 0x0102030405060708ull, true, key), 14u);
    EXPECT_EQ(header[0], 0x89);
    EXPECT_EQ(header[1], 0x80 | 127);
    const uint8_t big[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_EQ(0, std::memcmp(header + 2, big, 8));
    EXPECT_EQ(0, std::memcmp(header + 10, key, 4));
    for (uint64_t size : {0ull, 1ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 33}) {
        EXPECT_EQ(encode_frame_header(header, opcode::text, size), frame_header_size(size, false));
        EXPECT_EQ(encode_frame_header(header, opcode::text, size, true, key),
                  frame_header_size(size, true));
    }
}

TEST(Frame, MaskMatchesByteReferenceAtEveryAlignment) {
    std::mt19937 random(42);
    std::vector<uint8_t> original(300);
    for (auto& b : original) b = static_cast<uint8_t>(random());
    const uint8_t key[4] = {0xA1, 0x02, 0xF3, 0x44};
    for (size_t alignment = 0; alignment < 32; ++alignment) {
        for (size_t size = 0; size <= 200; size += (size < 80 ? 1 : 13)) {
            for (size_t offset = 0; offset < 8; ++offset) {
                std::vector<uint8_t> data = original;
                apply_mask(data.data() + alignment, size, key, offset);
                for (size_t i = 0; i < data.size(); ++i) {
                    uint8_t expected = original[i];
                    if (i >= alignment && i < alignment + size) {
                        expected ^= key[(i - alignment + offset) % 4];
                    }
                    ASSERT_EQ(data[i], expected) << alignment << " " << size << " " << offset;
                }
            }
        }
    }
}

TEST(Frame, CopyPayloadMatchesReference) {
    std::mt19937 random(7);
    std::vector<uint8_t> source(5000);
    for (auto& b : source) b = static_cast<uint8_t>(random());
    const uint8_t key[4] = {0x0F, 0xF0, 0x55, 0xAA};
    for (size_t size : {0, 1, 7, 8, 15, 16, 63, 64, 65, 200, 1023, 1024, 1025, 4097}) {
        for (size_t delta = 0; delta < 20; delta += 3) {
            for (const uint8_t* mask : {static_cast<const uint8_t*>(nullptr), key}) {
                const size_t offset = delta % 4;
                std::vector<uint8_t> out(size + 40, 0xEE);
                copy_payload(out.data() + delta, source.data() + 1, size, mask, offset);
                for (size_t i = 0; i < out.size(); ++i) {
                    uint8_t expected = 0xEE;
                    if (i >= delta && i < delta + size) {
                        expected = source[1 + i - delta];
                        if (mask != nullptr) expected ^= key[(i - delta + offset) % 4];
                    }
                    ASSERT_EQ(out[i], expected) << size << " " << delta << " " << i;
                }
            }
        }
    }
}

TEST(Frame, MaskingInPiecesEqualsMaskingAtOnce) {
    std::vector<uint8_t> whole(1000), pieces(1000);
    for (size_t i = 0; i < whole.size(); ++i) whole[i] = pieces[i] = static_cast<uint8_t>(i * 7);
    const uint8_t key[4] = {9, 8, 7, 6};
    apply_mask(whole.data(), whole.size(), key);
    size_t done = 0;
    for (size_t piece : {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 392}) {
        apply_mask(pieces.data() + done, piece, key, done);
        done += piece;
    }
    ASSERT_EQ(done, 1000u);
    EXPECT_EQ(whole, pieces);
}

TEST(Frame, ValidCloseCodes) {
    for (uint32_t code = 0; code < 65536; ++code) {
        const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                              (code >= 3000 && code <= 4999);
        ASSERT_EQ(valid_close_code(static_cast<uint16_t>(code)), expected) << code;
    }
}

TEST(Frame, AppendFrameRoundTripsThroughReader) {
    const uint8_t key[4] = {0xDE, 0xAD, 0xBE, 0xEF};
    for (size_t size : {0, 1, 125, 126, 1000, 65535, 65536, 70001}) {
        std::string payload(size, 'x');
        for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
        std::string masked, unmasked;
        append_frame(masked, opcode::binary, payload, true, key);
        append_frame(unmasked, opcode::text, payload);
        EXPECT_EQ(masked.size(), frame_header_size(size, true) + size);
        EXPECT_EQ(unmasked.size(), frame_header_size(size, false) + size);
        if (size > 0) {
            EXPECT_NE(masked.substr(masked.size() - size), payload);
        }
        EXPECT_EQ(read_all(masked, role::server),
                  (std::vector<event_record>{{read_event::binary, payload, 0, ""}}));
        EXPECT_EQ(read_all(unmasked, role::client),
                  (std::vector<event_record>{{read_event::text, payload, 0, ""}}));
    }
}

TEST(Frame, FragmentsAndControlFramesRoundTrip) {
    const uint8_t key[4] = {1, 2, 3, 4};
    std::string stream;
    append_frame(stream, opcode::text, "Hel", false, key);
    append_frame(stream, opcode::ping, "?", true, key);
    append_frame(stream, opcode::continuation, "lo", true, key);
    append_frame(stream, opcode::pong, "", true, key);
    EXPECT_EQ(read_all(stream), (std::vector<event_record>{{read_event::ping, "?", 0, ""},
                                                           {read_event::text, "Hello", 0, ""},
                                                           {read_event::pong, "", 0, ""}}));
}

TEST(Frame, CloseFrames) {
    std::string out;
    append_close_frame(out, 0, "ignored");
    EXPECT_EQ(out, std::string("\x88\x00", 2));
    out.clear();
    append_close_frame(out, 1000, "bye");
    EXPECT_EQ(out, std::string("\x88\x05\x03\xE8"
                               "bye",
                               7));
    EXPECT_EQ(read_all(out, role::client), (std::vector<event_record>{{read_event::close,
                                                                       "\x03\xE8"
                                                                       "bye",
                                                                       1000, "bye"}}));
    // A long reason is cut to fit 125 bytes, never inside a UTF-8 character.
    std::string long_reason;
    for (int i = 0; i < 100; ++i) long_reason.append("\xC3\xA9");
    out.clear();
    append_close_frame(out, 4001, long_reason);
    ASSERT_EQ(static_cast<uint8_t>(out[1]), 2 + 122);
    const auto events = read_all(out, role::client);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event, read_event::close);
    EXPECT_EQ(events[0].close_code, 4001);
    EXPECT_EQ(events[0].close_reason, long_reason.substr(0, 122));
    out.clear();
    const uint8_t key[4] = {5, 6, 7, 8};
    append_close_frame(out, 1001, std::string(200, 'r'), key);
    const auto masked_events = read_all(out, role::server);
    ASSERT_EQ(masked_events.size(), 1u);
    EXPECT_EQ(masked_events[0].close_code, 1001);
    EXPECT_EQ(masked_events[0].close_reason, std::string(123, 'r'));
}

}  // namespace
}  // namespace chorus::ws
