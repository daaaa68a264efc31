// Tests for message_reader: every framing rule and its close code, fragmentation with interleaved
// control frames, zero-copy delivery, and every stream fed split at every byte boundary.
#include "ws/message_reader.h"

#include <gtest/gtest.h>

#include "tests/ws/frame_test_util.h"

namespace chorus::ws {
namespace {

using testing::client_frame;
using testing::event_record;
using testing::length_form;
using testing::raw_frame;
using testing::read_all;
using testing::read_split;
using events = std::vector<event_record>;

event_record failure(uint16_t code) {
    return {read_event::fail, "", code, ""};
}

// The last event, with the human text dropped (tests check codes, not wording).
event_record last(events list) {
    if (list.empty()) return {read_event::need_more, "", 0, ""};
    event_record e = list.back();
    if (e.event == read_event::fail) {
        EXPECT_FALSE(e.close_reason.empty());
        e.close_reason.clear();
    }
    return e;
}

TEST(MessageReader, IsSmall) {
    EXPECT_LE(sizeof(message_reader), 64u);
}

TEST(MessageReader, ReadsEachKindOfFrame) {
    EXPECT_EQ(read_all(client_frame(opcode::text, "hi")), (events{{read_event::text, "hi"}}));
    EXPECT_EQ(read_all(client_frame(opcode::binary, std::string("\0\1\2", 3))),
              (events{{read_event::binary, std::string("\0\1\2", 3)}}));
    EXPECT_EQ(read_all(client_frame(opcode::ping, "p")), (events{{read_event::ping, "p"}}));
    EXPECT_EQ(read_all(client_frame(opcode::pong, "q")), (events{{read_event::pong, "q"}}));
    EXPECT_EQ(read_all(client_frame(opcode::close, "\x03\xE9going")),
              (events{{read_event::close, "\x03\xE9going", 1001, "going"}}));
    EXPECT_EQ(read_all(client_frame(opcode::close, "")), (events{{read_event::close, "", 1005}}));
}

TEST(MessageReader, EmptyPayloadsWorkEverywhere) {
    const std::string stream = client_frame(opcode::text, "") + client_frame(opcode::binary, "") +
                               client_frame(opcode::ping, "") + client_frame(opcode::pong, "") +
                               client_frame(opcode::binary, "", false) +
                               client_frame(opcode::continuation, "", false) +
                               client_frame(opcode::continuation, "");
    const events expected{{read_event::text, ""},
                          {read_event::binary, ""},
                          {read_event::ping, ""},
                          {read_event::pong, ""},
                          {read_event::binary, ""}};
    EXPECT_EQ(read_all(stream), expected);
}

TEST(MessageReader, ZeroCopyForCompleteFrames) {
    std::string stream = client_frame(opcode::binary, "abcdef") + client_frame(opcode::text, "x");
    message_reader reader(role::server, 1024);
    std::span<uint8_t> input(reinterpret_cast<uint8_t*>(stream.data()), stream.size());
    read_result result = reader.next(input);
    ASSERT_EQ(result.event, read_event::binary);
    EXPECT_EQ(result.consumed, 12u);
    EXPECT_EQ(result.payload.data(), input.data() + 6);  // unmasked in place
    EXPECT_EQ(reader.buffered_bytes(), 0u);
    input = input.subspan(result.consumed);
    result = reader.next(input);
    ASSERT_EQ(result.event, read_event::text);
    EXPECT_EQ(result.consumed, 7u);
    result = reader.next(input.subspan(result.consumed));
    EXPECT_EQ(result.event, read_event::need_more);
    EXPECT_EQ(result.consumed, 0u);
}

TEST(MessageReader, ClientRoleReadsUnmaskedFrames) {
    const std::string frame = raw_frame(0x81, "server says", false);
    EXPECT_EQ(read_all(frame, role::client), (events{{read_event::text, "server says"}}));
    EXPECT_EQ(last(read_all(frame, role::server)), failure(1002));  // server wants masked
    EXPECT_EQ(last(read_all(client_frame(opcode::text, "x"), role::client)), failure(1002));
}

TEST(MessageReader, ReservedBitsFail) {
    for (uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
        EXPECT_EQ(last(read_all(raw_frame(0x81 | rsv, "x"))), failure(1002)) << int(rsv);
    }
}

TEST(MessageReader, ReservedOpcodesFail) {
    for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
        EXPECT_EQ(last(read_all(raw_frame(0x80 | op, "x"))), failure(1002)) << int(op);
    }
}

TEST(MessageReader, NonMinimalLengthsFail) {
    EXPECT_EQ(last(read_all(raw_frame(0x82, "short", true, length_form::force16))), failure(1002));
    EXPECT_EQ(last(read_all(raw_frame(0x82, std::string(125, 'a'), true, length_form::force16))),
              failure(1002));
    EXPECT_EQ(read_all(raw_frame(0x82, std::string(126, 'a'), true, length_form::force16)),
              (events{{read_event::binary, std::string(126, 'a')}}));
    EXPECT_EQ(last(read_all(raw_frame(0x82, std::string(300, 'a'), true, length_form::force64))),
              failure(1002));
    EXPECT_EQ(last(read_all(raw_frame(0x82, std::string(65535, 'a'), true, length_form::force64))),
              failure(1002));
    EXPECT_EQ(read_all(raw_frame(0x82, std::string(65536, 'a'), true, length_form::force64)),
              (events{{read_event::binary, std::string(65536, 'a')}}));
    // A 64-bit length with the most significant bit set.
    const std::string huge(
        "\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x00"
        "abcd",
        14);
    EXPECT_EQ(last(read_all(huge)), failure(1002));
}

TEST(MessageReader, ControlFrameRulesFail) {
    EXPECT_EQ(last(read_all(raw_frame(0x89, std::string(126, 'p')))), failure(1002));
    EXPECT_EQ(read_all(raw_frame(0x89, std::string(125, 'p'))),
              (events{{read_event::ping, std::string(125, 'p')}}));
    EXPECT_EQ(last(read_all(raw_frame(0x09, "p"))), failure(1002));  // FIN=0
    EXPECT_EQ(last(read_all(raw_frame(0x08, ""))), failure(1002));
    EXPECT_EQ(last(read_all(raw_frame(0x0A, ""))), failure(1002));
}

TEST(MessageReader, FragmentationRulesFail) {
    EXPECT_EQ(last(read_all(client_frame(opcode::continuation, "x"))), failure(1002));
    EXPECT_EQ(last(read_all(client_frame(opcode::continuation, "x", false))), failure(1002));
    const std::string started = client_frame(opcode::text, "a", false);
    EXPECT_EQ(last(read_all(started + client_frame(opcode::text, "b"))), failure(1002));
    EXPECT_EQ(last(read_all(started + client_frame(opcode::binary, "b", false))), failure(1002));
    // After a message completes, a continuation is again unexpected.
    EXPECT_EQ(last(read_all(started + client_frame(opcode::continuation, "b") +
                            client_frame(opcode::continuation, "c"))),
              failure(1002));
}

TEST(MessageReader, CloseFrameRules) {
    EXPECT_EQ(last(read_all(client_frame(opcode::close, "\x03"))), failure(1002));
    for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
        const std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
        EXPECT_EQ(last(read_all(client_frame(opcode::close, payload))), failure(1002)) << code;
    }
    for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 1014, 3000, 4999}) {
        const std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
        EXPECT_EQ(read_all(client_frame(opcode::close, payload)),
                  (events{{read_event::close, payload, code, ""}}))
            << code;
    }
    EXPECT_EQ(last(read_all(client_frame(opcode::close, "\x03\xE8\xC3"))), failure(1007));
    EXPECT_EQ(last(read_all(client_frame(opcode::close, "\x03\xE8\xED\xA0\x80"))), failure(1007));
}

TEST(MessageReader, InvalidUtf8TextFails1007) {
    EXPECT_EQ(last(read_all(client_frame(opcode::text, "ok\xFF"))), failure(1007));
    EXPECT_EQ(last(read_all(client_frame(opcode::text, "\xC0\x80"))), failure(1007));
    // A character split across fragments is fine; an invalid one across fragments is not.
    EXPECT_EQ(read_all(client_frame(opcode::text, "caf\xC3", false) +
                       client_frame(opcode::continuation, "\xA9")),
              (events{{read_event::text, "caf\xC3\xA9"}}));
    EXPECT_EQ(last(read_all(client_frame(opcode::text, "caf\xC3", false) +
                            client_frame(opcode::continuation, "\x41"))),
              failure(1007));
    // Binary messages are not validated.
    EXPECT_EQ(read_all(client_frame(opcode::binary, "\xFF")),
              (events{{read_event::binary, "\xFF"}}));
}

// Autobahn 6.4.x: "κόσμε", U+110000 encoded (invalid from its second byte), then "edited".
const std::string kosme = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";

bool has_failure(const events& list) {
    return !list.empty() && list.back().event == read_event::fail;
}

// The stream is fed as stream[0..cut) then stream[cut..end): for every cut up to the bad byte the
// reader must fail on the piece that ends just after that byte, and not on one that ends before.
void expect_fail_at_byte(const std::string& stream, size_t bad_byte) {
    for (size_t cut = 0; cut <= bad_byte; ++cut) {
        for (size_t end : {bad_byte, bad_byte + 1}) {
            message_reader reader(role::server, 1 << 20);
            events got;
            testing::feed(reader, stream.substr(0, cut), got);
            ASSERT_FALSE(has_failure(got)) << "cut " << cut;
            testing::feed(reader, stream.substr(cut, end - cut), got);
            if (end == bad_byte) {
                ASSERT_FALSE(has_failure(got)) << "cut " << cut << ", end " << end;
            } else {
                ASSERT_EQ(last(got), failure(1007)) << "cut " << cut << ", end " << end;
            }
        }
    }
}

TEST(MessageReader, InvalidUtf8FailsAtTheFragmentHoldingIt) {
    // 6.4.1 and 6.4.2: the third fragment never arrives, the second one is enough to fail.
    for (const std::string bad : {"\xF4\x90\x80\x80", "\xF4\x90"}) {
        const std::string first = client_frame(opcode::text, kosme, false);
        const std::string second = client_frame(opcode::continuation, bad, false);
        EXPECT_EQ(read_all(first), events{});
        EXPECT_EQ(last(read_all(first + second)), failure(1007));
        const std::string ping = client_frame(opcode::ping, "p");
        const events with_ping = read_all(first + ping + second);
        ASSERT_EQ(with_ping.size(), 2u);
        EXPECT_EQ(with_ping[0], (event_record{read_event::ping, "p"}));
        EXPECT_EQ(last(with_ping), failure(1007));
        // Bad text wins over whatever comes after it in the same read, valid or not: a control
        // frame, a bad frame, the last fragment, a fragment with RSV1 set. Also when the read
        // ends inside that frame.
        for (const std::string& after :
             {client_frame(opcode::ping, "ping!"), raw_frame(0x93, "x"),
              client_frame(opcode::continuation, "edited"), raw_frame(0x10, "x")}) {
            const std::string stream = first + second + after;
            for (size_t cut = first.size() + second.size(); cut <= stream.size(); ++cut) {
                const events got = read_all(stream.substr(0, cut));
                EXPECT_EQ(got.size(), 1u) << cut;
                EXPECT_EQ(last(got), failure(1007)) << cut;
            }
        }
        // The bad byte is 0x90, the second payload byte of the second fragment (after its
        // 6-byte header); wherever the reads are cut, the failure comes with it.
        expect_fail_at_byte(first + second, first.size() + 6 + 1);
        expect_fail_at_byte(first + ping + second, first.size() + ping.size() + 6 + 1);
    }
}

// `text` as a message in fragments of `fragment` bytes (cutting characters apart).
std::string fragmented(const std::string& text, size_t fragment) {
    std::string stream;
    for (size_t start = 0; start == 0 || start < text.size(); start += fragment) {
        const bool last_fragment = start + fragment >= text.size();
        stream += client_frame(start == 0 ? opcode::text : opcode::continuation,
                               text.substr(start, fragment), last_fragment);
    }
    return stream;
}

TEST(MessageReader, ManySmallFragmentsInOneReadAreCheckedTogether) {
    std::string text;
    while (text.size() < 300) text += "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8E\xA4";
    EXPECT_EQ(read_all(fragmented(text, 7)), (events{{read_event::text, text}}));
    std::string bad = text;
    bad[150] = '\xFF';
    // Fragment 150 / 7 = 21 holds it: 22 headers of 6 bytes come before it in the stream.
    expect_fail_at_byte(fragmented(bad, 7), 22 * 6 + 150);
    // A run longer than what is left unchecked at once (64 KiB) is checked along the way.
    std::string long_text;
    while (long_text.size() < 70000) long_text += text;
    EXPECT_EQ(read_all(fragmented(long_text, 100)), (events{{read_event::text, long_text}}));
    for (size_t at : {size_t{5}, size_t{65600}, long_text.size() - 1}) {
        std::string long_bad = long_text;
        long_bad[at] = '\xFF';
        EXPECT_EQ(last(read_all(fragmented(long_bad, 100))), failure(1007)) << at;
        const std::string stream = fragmented(long_bad, 100);
        const size_t bad_byte = (at / 100 + 1) * 6 + at;
        EXPECT_EQ(last(read_all(stream.substr(0, bad_byte + 1))), failure(1007)) << at;
        EXPECT_FALSE(has_failure(read_all(stream.substr(0, bad_byte)))) << at;
    }
}

TEST(MessageReader, InvalidUtf8FailsAtThePieceOfAFrameHoldingIt) {
    // 6.4.3 and 6.4.4: one frame whose payload arrives in pieces, the end withheld.
    const std::string frame = client_frame(opcode::text, kosme + "\xF4\x90\x80\x80" + "edited");
    const size_t bad_byte = 6 + kosme.size() + 1;
    expect_fail_at_byte(frame, bad_byte);
    EXPECT_EQ(last(read_all(frame.substr(0, bad_byte + 1))), failure(1007));
    EXPECT_EQ(read_all(frame.substr(0, bad_byte)), events{});
    // A 16-bit length frame cut in its middle, the bad byte far into the payload.
    std::string long_text(3000, 'a');
    long_text[2000] = '\xC0';
    expect_fail_at_byte(client_frame(opcode::text, long_text), 8 + 2000);
}

TEST(MessageReader, TextEndingInsideACharacterFailsOnlyAtTheEnd) {
    const std::string stream = client_frame(opcode::text, "fine ", false) +
                               client_frame(opcode::continuation, "\xF0\x9F\x8E");
    for (size_t cut = 0; cut < stream.size(); ++cut) {
        EXPECT_FALSE(has_failure(read_all(stream.substr(0, cut)))) << cut;
        EXPECT_EQ(last(read_split(stream, {cut})), failure(1007)) << cut;
    }
    const std::string frame = client_frame(opcode::text, "ok\xE2\x82");
    for (size_t cut = 0; cut < frame.size(); ++cut) {
        EXPECT_FALSE(has_failure(read_all(frame.substr(0, cut)))) << cut;
        EXPECT_EQ(last(read_split(frame, {cut})), failure(1007)) << cut;
    }
}

TEST(MessageReader, CharactersCutByFragmentsAndReadsAreAccepted) {
    const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8E\xA4z";
    for (size_t a = 0; a <= text.size(); ++a) {
        for (size_t b = a; b <= text.size(); ++b) {
            const std::string stream =
                client_frame(opcode::text, text.substr(0, a), false) +
                client_frame(opcode::continuation, text.substr(a, b - a), false) +
                client_frame(opcode::continuation, text.substr(b));
            const events expected{{read_event::text, text}};
            for (size_t cut = 0; cut <= stream.size(); ++cut) {
                ASSERT_EQ(read_split(stream, {cut}), expected) << a << " " << b << " " << cut;
            }
        }
    }
    const std::string frame = client_frame(opcode::text, text);
    std::vector<size_t> every_byte;
    for (size_t i = 1; i < frame.size(); ++i) every_byte.push_back(i);
    EXPECT_EQ(read_split(frame, every_byte), (events{{read_event::text, text}}));
}

TEST(MessageReader, TooBigFailsAtHeaderTime) {
    EXPECT_EQ(read_all(client_frame(opcode::binary, std::string(100, 'a')), role::server, 100),
              (events{{read_event::binary, std::string(100, 'a')}}));
    // Only the header of a 101-byte frame is needed to fail, and nothing is buffered.
    const std::string frame = client_frame(opcode::binary, std::string(101, 'a'));
    message_reader reader(role::server, 100);
    std::string header = frame.substr(0, 6);
    read_result result = reader.next({reinterpret_cast<uint8_t*>(header.data()), header.size()});
    EXPECT_EQ(result.event, read_event::fail);
    EXPECT_EQ(result.close_code, 1009);
    EXPECT_LE(result.consumed, header.size());
    EXPECT_EQ(reader.buffered_bytes(), 0u);
    // A huge declared length is 1009, not an allocation.
    const std::string huge(
        "\x82\xFF\x00\x00\x01\x00\x00\x00\x00\x00"
        "abcd",
        14);
    EXPECT_EQ(last(read_all(huge, role::server, 1 << 20)), failure(1009));
    // The limit covers all fragments together.
    const std::string fragments = client_frame(opcode::text, std::string(60, 'a'), false) +
                                  client_frame(opcode::continuation, std::string(40, 'b'), false) +
                                  client_frame(opcode::continuation, "c");
    EXPECT_EQ(last(read_all(fragments, role::server, 100)), failure(1009));
    EXPECT_EQ(last(read_all(fragments, role::server, 101)).event, read_event::text);
    // Control frames do not count against the message limit.
    EXPECT_EQ(read_all(client_frame(opcode::ping, std::string(50, 'p')), role::server, 10).size(),
              1u);
}

TEST(MessageReader, FragmentedMessageWithInterleavedControlFrames) {
    const std::string stream =
        client_frame(opcode::text, "Hel", false) + client_frame(opcode::ping, "p1") +
        client_frame(opcode::continuation, "lo ", false) + client_frame(opcode::pong, "") +
        client_frame(opcode::continuation, "", false) + client_frame(opcode::close, "\x03\xE8") +
        client_frame(opcode::continuation, "world");
    const events expected{{read_event::ping, "p1"},
                          {read_event::pong, ""},
                          {read_event::close, "\x03\xE8", 1000, ""},
                          {read_event::text, "Hello world"}};
    EXPECT_EQ(read_all(stream), expected);
}

TEST(MessageReader, StaysFailed) {
    message_reader reader(role::server, 100);
    std::string bad = raw_frame(0xC1, "x");
    std::string good = client_frame(opcode::text, "x");
    read_result result = reader.next({reinterpret_cast<uint8_t*>(bad.data()), bad.size()});
    ASSERT_EQ(result.event, read_event::fail);
    EXPECT_EQ(result.close_code, 1002);
    EXPECT_TRUE(reader.failed());
    result = reader.next({reinterpret_cast<uint8_t*>(good.data()), good.size()});
    EXPECT_EQ(result.event, read_event::fail);
    EXPECT_EQ(result.close_code, 1002);
    EXPECT_EQ(result.consumed, 0u);
}

// A stream that exercises every path: all length forms, fragments, interleaved control frames.
std::string mixed_stream() {
    return client_frame(opcode::text, "first") +
           client_frame(opcode::binary, std::string(200, 'b')) +
           client_frame(opcode::binary, "frag-", false) + client_frame(opcode::ping, "mid") +
           client_frame(opcode::continuation, std::string(130, 'c'), false) +
           client_frame(opcode::continuation, "end") + client_frame(opcode::pong, "") +
           client_frame(opcode::text, "\xE2\x82\xAC", false) +
           client_frame(opcode::continuation, "") +
           client_frame(opcode::close,
                        "\x0B\xB8"
                        "done");
}

TEST(MessageReader, EverySplitPointGivesTheSameEvents) {
    const std::string stream = mixed_stream();
    const events expected = read_all(stream);
    ASSERT_EQ(expected.size(), 7u);
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        ASSERT_EQ(read_split(stream, {cut}), expected) << "cut at " << cut;
    }
    for (size_t a = 0; a <= stream.size(); a += 3) {
        for (size_t b = a; b <= stream.size(); b += 7) {
            ASSERT_EQ(read_split(stream, {a, b}), expected) << "cuts at " << a << ", " << b;
        }
    }
    std::vector<size_t> every_byte;
    for (size_t i = 1; i < stream.size(); ++i) every_byte.push_back(i);
    EXPECT_EQ(read_split(stream, every_byte), expected);
}

TEST(MessageReader, LargeFramesSplitInsideHeaderAndPayload) {
    std::string payload(70000, '\0');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 + 7);
    const std::string stream = client_frame(opcode::binary, payload) +
                               client_frame(opcode::binary, payload.substr(0, 40000), false) +
                               client_frame(opcode::continuation, payload.substr(40000));
    const events expected{{read_event::binary, payload}, {read_event::binary, payload}};
    ASSERT_EQ(read_all(stream), expected);
    for (size_t cut :
         {1, 2, 5, 9, 13, 14, 15, 1000, 65536, 70013, 70014, 70015, 70020, 70029, 110000, 140000}) {
        ASSERT_EQ(read_split(stream, {cut}), expected) << cut;
    }
    std::vector<size_t> cuts;
    for (size_t i = 1; i < stream.size(); i += 997) cuts.push_back(i);
    EXPECT_EQ(read_split(stream, cuts), expected);
}

TEST(MessageReader, InvalidFramesFailAtEverySplitPoint) {
    const std::string bad_streams[] = {
        client_frame(opcode::text, "ok") + raw_frame(0x91, "x"),
        client_frame(opcode::text, "ok") + client_frame(opcode::text, "\xFF"),
        client_frame(opcode::text, "a", false) + client_frame(opcode::binary, "b"),
        client_frame(opcode::close, "\x03\xED"),
    };
    for (const std::string& stream : bad_streams) {
        const events expected = read_all(stream);
        ASSERT_EQ(expected.back().event, read_event::fail);
        for (size_t cut = 0; cut <= stream.size(); ++cut) {
            ASSERT_EQ(read_split(stream, {cut}), expected) << cut;
        }
    }
}

TEST(MessageReader, BufferIsBoundedAndReleasable) {
    message_reader reader(role::server, 1000);
    std::string frame = client_frame(opcode::binary, std::string(500, 'z'));
    std::vector<event_record> got;
    testing::feed(reader, frame.substr(0, 3), got);
    EXPECT_EQ(reader.buffered_bytes(), 3u);
    testing::feed(reader, frame.substr(3, 100), got);
    EXPECT_EQ(reader.buffered_bytes(), 100u - 5u);
    reader.release_buffer();  // ignored: bytes are held
    EXPECT_EQ(reader.buffered_bytes(), 95u);
    testing::feed(reader, frame.substr(103), got);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, std::string(500, 'z'));
    EXPECT_EQ(reader.buffered_bytes(), 0u);
    reader.release_buffer();
    got.clear();
    testing::feed(reader, client_frame(opcode::text, "again"), got);
    EXPECT_EQ(got, (events{{read_event::text, "again"}}));
}

TEST(MessageReader, LimitCanChange) {
    message_reader reader(role::server, 10);
    EXPECT_EQ(reader.message_bytes_max(), 10u);
    reader.set_message_bytes_max(20);
    std::vector<event_record> got;
    testing::feed(reader, client_frame(opcode::binary, std::string(20, 'a')), got);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].event, read_event::binary);
    reader.set_message_bytes_max(size_t{1} << 40);
    EXPECT_EQ(reader.message_bytes_max(), reader_message_bytes_limit);
}

TEST(MessageReader, MovesKeepPartialState) {
    message_reader reader(role::server, 1000);
    const std::string frame =
        client_frame(opcode::text, "hello", false) + client_frame(opcode::continuation, " there");
    std::vector<event_record> got;
    testing::feed(reader, frame.substr(0, 14), got);
    message_reader moved(std::move(reader));
    EXPECT_EQ(moved.buffered_bytes(), 14u - 11u + 5u);
    testing::feed(moved, frame.substr(14), got);
    EXPECT_EQ(got, (events{{read_event::text, "hello there"}}));
    message_reader assigned(role::client, 5);
    assigned = std::move(moved);
    got.clear();
    testing::feed(assigned, client_frame(opcode::ping, ""), got);
    EXPECT_EQ(got, (events{{read_event::ping, ""}}));
}

}  // namespace
}  // namespace chorus::ws
