// Unit tests for chorus-bench's --json: always valid JSON (a server stage whose quantile lies
// past its last finite bucket is written as null, never as inf), with the load and command that
// a ladder report plots against.
#include "bench/chorus_bench/report.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace chorus::bench {
namespace {

std::string written_json(const report& r) {
    std::string path = ::testing::TempDir() + "report_test_" + std::to_string(::getpid()) + ".json";
    std::string error;
    EXPECT_TRUE(write_json(path, r, &error)) << error;
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    std::remove(path.c_str());
    return content.str();
}

TEST(ReportJson, StageQuantilePastTheLastBucketIsNull) {
    report r;
    r.scenario = "rooms";
    r.command = "chorus-bench rooms --run-id \"q\\\"";
    r.rooms = 40;
    r.rate = 50;
    r.has_breakdown = true;
    prom_histogram& slow = r.breakdown.loop_pass;
    slow.bounds = {0.001, INFINITY};
    slow.cumulative = {1, 100};
    slow.count = 100;
    slow.sum = 5;
    r.breakdown.fanout = slow;
    r.breakdown.fanout.cumulative = {100, 100};
    std::string json = written_json(r);
    EXPECT_EQ(json.find("inf"), std::string::npos) << json;
    EXPECT_EQ(json.find("nan"), std::string::npos) << json;
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(padded).get(root), simdjson::SUCCESS) << json;
    EXPECT_TRUE(root["server_metrics"]["loop_pass"]["p99_us"].is_null());
    double fanout_p99 = 0;
    ASSERT_EQ(root["server_metrics"]["fanout"]["p99_us"].get(fanout_p99), simdjson::SUCCESS);
    EXPECT_EQ(fanout_p99, 1000.0);
    uint64_t rooms = 0;
    ASSERT_EQ(root["load"]["rooms"].get(rooms), simdjson::SUCCESS);
    EXPECT_EQ(rooms, 40u);
    std::string_view command;
    ASSERT_EQ(root["command"].get(command), simdjson::SUCCESS);
    EXPECT_EQ(command, r.command);
}

TEST(ReportJson, NonFiniteNumbersAreNull) {
    report r;
    r.scenario = "echo";
    r.window_seconds = NAN;
    r.deliveries_per_sec = INFINITY;
    std::string json = written_json(r);
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(padded).get(root), simdjson::SUCCESS) << json;
    EXPECT_TRUE(root["window_seconds"].is_null());
    EXPECT_TRUE(root["deliveries_per_sec"].is_null());
}

}  // namespace
}  // namespace chorus::bench
