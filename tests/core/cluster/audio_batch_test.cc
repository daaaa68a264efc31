// The audio batch crosses the network between nodes: what one node encodes the other decodes to
// the same rooms and frames in the same order, and every malformed batch is refused whole.
#include "core/cluster/audio_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace chorus::core::cluster {
namespace {

// room, level, sender, frame
using record = std::tuple<std::string, uint8_t, uint32_t, std::string>;
using records = std::vector<record>;

records decode(std::string_view batch, std::string* instance = nullptr) {
    audio_batch parsed;
    EXPECT_TRUE(parse_audio_batch(batch, &parsed));
    if (instance) *instance = std::string(parsed.instance);
    records out;
    std::string_view rest = parsed.records;
    audio_record r;
    while (next_audio_record(rest, &r))
        out.emplace_back(std::string(r.room), r.level, r.from, std::string(r.frame));
    EXPECT_TRUE(rest.empty());
    EXPECT_EQ(out.size(), parsed.frames);
    return out;
}

TEST(AudioBatch, RoundTripsRoomsAndFramesInOrder) {
    std::string batch;
    begin_audio_batch(batch, "node1/0a1b2c3d4e5f");
    EXPECT_TRUE(audio_batch_empty(batch, "node1/0a1b2c3d4e5f"));
    std::string big(70000, '\x7f');  // longer than 16 bits of length
    std::string binary("\x82\x05\x01\x00|\x00\xff", 7);
    records in = {{"lobby", audio_batch_no_level, 7, "\x82\x02hi"},
                  {"r.2-x_Y", 0, 0xfffffffe, binary},
                  {"lobby", 127, 7, big},
                  {std::string(64, 'a'), 50, 1, std::string("\x82\x00", 2)},
                  {"lobby", audio_batch_no_level, 0x01020304, "\x82\x01z"}};
    for (auto& [room, level, from, frame] : in)
        append_audio_batch(batch, {room, level, from, frame});
    EXPECT_FALSE(audio_batch_empty(batch, "node1/0a1b2c3d4e5f"));
    std::string instance;
    EXPECT_EQ(decode(batch, &instance), in);
    EXPECT_EQ(instance, "node1/0a1b2c3d4e5f");
    // Beginning again empties it.
    begin_audio_batch(batch, "n2");
    EXPECT_EQ(batch, "B|n2|");
    audio_batch parsed;
    EXPECT_FALSE(parse_audio_batch(batch, &parsed)) << "a batch with no frame is never sent";
}

TEST(AudioBatch, RefusesMalformed) {
    std::string good;
    begin_audio_batch(good, "n1");
    append_audio_batch(good, {"room", audio_batch_no_level, 9, "\x82\x01x"});
    audio_batch parsed;
    ASSERT_TRUE(parse_audio_batch(good, &parsed));
    std::vector<std::string> bad = {
        "",
        "B",
        "B|",
        std::string("B||\x04room\xff\0\0\0\x09\0\0\0\x03\x82\x01x", 19),
        std::string("A|n1|\x04room\xff\0\0\0\x09\0\0\0\x03\x82\x01x", 21),
        good.substr(0, good.size() - 1),                         // the frame cut short
        good + "\x04",                                           // a record cut at its room length
        good + std::string("\x04room\xff\0\0\0\x09\0\0\0", 13),  // cut inside the frame length
    };
    auto with = [&](std::string room, std::string length, std::string frame,
                    std::string head = std::string("\xff\0\0\0\x09", 5)) {
        return std::string("B|n1|") + room + head + length + frame;
    };
    std::string three("\0\0\0\x03", 4), one("\0\0\0\x01", 4), huge("\xff\xff\xff\xff", 4);
    bad.push_back(with(std::string(1, '\0'), three, "\x82\x01x"));  // empty room
    bad.push_back(with("\x05ro|om", three, "\x82\x01x"));           // '|' in the room
    bad.push_back(with("\x04ro m", three, "\x82\x01x"));            // space in the room
    bad.push_back(with(std::string(1, '\x41') + std::string(65, 'a'), three, "\x82\x01x"));
    bad.push_back(with("\x04room", one, "\x82"));        // frame under 2
    bad.push_back(with("\x04room", huge, "\x82\x01x"));  // length past input
    bad.push_back(
        with("\x04room", three, "\x82\x01x", std::string("\x80\0\0\0\x09", 5)));  // level 128
    bad.push_back(
        with("\x04room", three, "\x82\x01x", std::string("\xfe\0\0\0\x09", 5)));      // level 254
    bad.push_back(std::string("B|") + std::string(300, 'n') + "|" + good.substr(5));  // instance
    for (const std::string& b : bad) {
        EXPECT_FALSE(parse_audio_batch(b, &parsed)) << testing::PrintToString(b);
        EXPECT_TRUE(parsed.records.empty());
    }
}

}  // namespace
}  // namespace chorus::core::cluster
