// Unit tests for the bench's audio stamp and the receiver's order check.
#include "bench/chorus_bench/payload.h"

#include <gtest/gtest.h>

#include <vector>

namespace chorus::bench {
namespace {

TEST(AudioStamp, RoundTripsWithFiller) {
    std::vector<uint8_t> buffer(120);
    audio_stamp in{7, 1, 0x0102030405060708ull, 0xfffffffffffffff0ull};
    write_stamp(buffer.data(), buffer.size(), in);
    audio_stamp out;
    ASSERT_TRUE(read_stamp(buffer, &out));
    EXPECT_EQ(out.room, 7u);
    EXPECT_EQ(out.speaker, 1u);
    EXPECT_EQ(out.seq, in.seq);
    EXPECT_EQ(out.send_ns, in.send_ns);
    EXPECT_EQ(buffer[119], 0x5a);
}

TEST(AudioStamp, ShortPayloadIsRefused) {
    std::vector<uint8_t> buffer(stamp_bytes - 1);
    audio_stamp out;
    EXPECT_FALSE(read_stamp(buffer, &out));
    std::vector<uint8_t> exact(stamp_bytes);
    write_stamp(exact.data(), exact.size(), {});
    EXPECT_TRUE(read_stamp(exact, &out));
}

TEST(SequenceCheck, InOrderGapAndReorder) {
    sequence_check check;
    uint64_t skipped = 0;
    EXPECT_EQ(check.observe(0, &skipped), sequence_check::verdict::in_order);
    EXPECT_EQ(check.observe(1, &skipped), sequence_check::verdict::in_order);
    EXPECT_EQ(check.observe(4, &skipped), sequence_check::verdict::gap);
    EXPECT_EQ(skipped, 2u);
    EXPECT_EQ(check.observe(2, &skipped), sequence_check::verdict::reordered);  // late
    EXPECT_EQ(check.observe(4, &skipped), sequence_check::verdict::reordered);  // duplicate
    EXPECT_EQ(check.observe(5, &skipped), sequence_check::verdict::in_order);
    EXPECT_EQ(skipped, 0u);
}

}  // namespace
}  // namespace chorus::bench
