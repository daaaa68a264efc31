// Envelopes and member records come from Redis, so from the network: every malformed shape is
// rejected and every well-formed one round-trips its fields exactly.
#include "core/cluster/cluster_envelope.h"

#include <gtest/gtest.h>

namespace chorus::core {
namespace {

TEST(ClusterEnvelope, RoomEventFields) {
    envelope e;
    ASSERT_TRUE(parse_room_envelope(
        R"(E|42|l|7|kicked|n1/abc|n1/abc.17|{"type":"left","seq":42,"member":7,"user":"a|b"})",
        &e));
    EXPECT_EQ(e.type, 'E');
    EXPECT_EQ(e.seq, 42u);
    EXPECT_EQ(e.kind, 'l');
    EXPECT_EQ(e.member, 7u);
    EXPECT_EQ(e.a1, "kicked");
    EXPECT_EQ(e.a2, "n1/abc");
    EXPECT_EQ(e.op, "n1/abc.17");
    EXPECT_EQ(e.body, R"({"type":"left","seq":42,"member":7,"user":"a|b"})");
}

TEST(ClusterEnvelope, SeatAndHandEvents) {
    envelope e;
    ASSERT_TRUE(parse_room_envelope(R"(E|5|s|3|2;3:0;0:1|||{"type":"seats","seq":5})", &e));
    EXPECT_EQ(e.kind, 's');
    EXPECT_EQ(e.a1, "2;3:0;0:1");
    ASSERT_TRUE(parse_room_envelope(R"(E|6|h|9||||{"type":"hand","seq":6})", &e));
    EXPECT_EQ(e.kind, 'h');
    EXPECT_EQ(e.a1, "");
    EXPECT_EQ(e.op, "") << "events written by no node's op (a restore's) carry none";
}

TEST(ClusterEnvelope, RejectsMalformedEvents) {
    envelope e;
    for (const char* bad : {"", "E", "E|", "E|0|c|1||||{}", "E|1|x|1||||{}", "E|1|c|0||||{}",
                            "E|-1|c|1||||{}", "E|1|c|1|||{}", "E|1|c|1||||", "E|1|c|1||||not json",
                            "E|99999999999999999999999|c|1||||{}", "E|1|c|4294967296||||{}",
                            "EE|1|c|1||||{}", "X|1|c|1||||{}", "E|1 |c|1||||{}"})
        EXPECT_FALSE(parse_room_envelope(bad, &e)) << bad;
    // The old shape (no op field) is not taken for an event: its JSON is no op id.
    EXPECT_FALSE(parse_room_envelope(R"(E|42|c|7|||{"type":"chat","seq":42})", &e));
    std::string long_op(op_id_bytes_max + 1, 'n');
    EXPECT_FALSE(parse_room_envelope("E|1|c|1|||" + long_op + "|{}", &e));
    EXPECT_TRUE(parse_room_envelope("E|1|c|1|||" + long_op.substr(1) + "|{}", &e));
}

TEST(ClusterEnvelope, MovedAndAudio) {
    envelope e;
    ASSERT_TRUE(parse_room_envelope("M|9|n2/ff|", &e));
    EXPECT_EQ(e.member, 9u);
    EXPECT_EQ(e.instance, "n2/ff");
    EXPECT_FALSE(parse_room_envelope("M|9||", &e));
    ASSERT_TRUE(parse_room_envelope("R|n3/01|", &e));
    EXPECT_EQ(e.instance, "n3/01");
    EXPECT_FALSE(parse_room_envelope("R||", &e));
    EXPECT_FALSE(parse_room_envelope("M|9|n2|extra", &e));
    // Room audio crosses in node batches (audio_batch.h): a per-frame envelope is not trusted.
    for (const char* bad : {"A|n1/aa|\x82\x01x", "L|n1/aa|7|42|xy"})
        EXPECT_FALSE(parse_room_envelope(bad, &e)) << bad;
}

TEST(ClusterEnvelope, NodeMessages) {
    envelope e;
    ASSERT_TRUE(parse_node_envelope("W|room-1|12|\x81\x02hi", &e));
    EXPECT_EQ(e.type, 'W');
    EXPECT_EQ(e.room, "room-1");
    EXPECT_EQ(e.member, 12u);
    EXPECT_EQ(e.body, "\x81\x02hi");
    EXPECT_FALSE(parse_node_envelope("W|bad room|12|xx", &e));
    EXPECT_FALSE(parse_node_envelope("W||12|xx", &e));
    EXPECT_FALSE(parse_node_envelope("W|r|0|xx", &e));
    EXPECT_FALSE(parse_node_envelope("E|r|1|xx", &e));
    EXPECT_FALSE(parse_node_envelope(std::string("V|") + std::string(65, 'r') + "|1|xx", &e));
}

TEST(ClusterEnvelope, MemberRecordRoundTrip) {
    std::string text =
        make_member_record("n1/ab", 1234567890123ull, true, true, "al\\\"ice", "Al", false, true);
    member_record r;
    ASSERT_TRUE(parse_member_record(text, &r));
    EXPECT_EQ(r.instance, "n1/ab");
    EXPECT_EQ(r.session, 1234567890123ull);
    EXPECT_TRUE(r.muted);
    EXPECT_TRUE(r.admin_muted);
    EXPECT_EQ(r.user, "al\\\"ice");
    EXPECT_EQ(r.name, "Al");
    EXPECT_FALSE(r.speak);
    EXPECT_TRUE(r.admin);
    ASSERT_TRUE(parse_member_record("n1\n1\n1\nu\nn\n1", &r));
    EXPECT_TRUE(r.speak);
    EXPECT_FALSE(r.admin);
    ASSERT_TRUE(parse_member_record("n1\n1\n1\nu\nn\n3", &r));
    EXPECT_TRUE(r.speak && r.admin);
    EXPECT_TRUE(r.muted);
    EXPECT_FALSE(r.admin_muted);
    for (const char* bad :
         {"", "n1\n1\n3\nu\nn\n1", "n1\n1\n0\nu\nn", "n1\nx\n0\nu\nn\n1", "\n1\n0\nu\nn\n1",
          "n1\n1\n0\n\nn\n1", "n1\n1\n0\nu\nn\n1\n", "n1\n1\n0\nu\nn\n4", "n1\n1\n0\nu\nn\n12"})
        EXPECT_FALSE(parse_member_record(bad, &r)) << bad;
}

}  // namespace
}  // namespace chorus::core
