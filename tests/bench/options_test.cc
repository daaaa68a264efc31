// Unit tests for chorus-bench flag parsing and the pure HTTP/metrics helpers it uses.
#include "bench/chorus_bench/options.h"

#include <gtest/gtest.h>

#include <cmath>

#include "bench/chorus_bench/http_client.h"
#include "bench/chorus_bench/server_probe.h"
#include "ws/handshake.h"

namespace chorus::bench {
namespace {

bool parse(std::vector<std::string> args, options* o, std::string* error) {
    bool help = false;
    return parse_options(args, o, error, &help);
}

TEST(BenchOptions, SeatsAreForChorusRoomsWithASeatPerSpeaker) {
    options o;
    std::string error;
    ASSERT_TRUE(parse({"rooms", "--speakers", "4", "--members", "20", "--seats", "8"}, &o, &error))
        << error;
    EXPECT_EQ(o.seats, 8u);
    EXPECT_FALSE(
        parse({"rooms", "--speakers", "4", "--members", "20", "--seats", "3"}, &o, &error));
    EXPECT_FALSE(parse({"rooms", "--seats", "33"}, &o, &error));
    EXPECT_FALSE(parse({"flood", "--seats", "8"}, &o, &error));
    EXPECT_FALSE(parse(
        {"rooms", "--protocol", "raw", "--url-template", "ws://127.0.0.1:9/{room}", "--seats", "8"},
        &o, &error));
}

TEST(BenchOptions, RoomsScenarioWithEveryShapeFlag) {
    options o;
    std::string error;
    ASSERT_TRUE(parse({"rooms",
                       "--url",
                       "ws://127.0.0.1:9000",
                       "--rooms",
                       "200",
                       "--members=50",
                       "--speakers",
                       "2",
                       "--rate",
                       "50",
                       "--payload",
                       "120",
                       "--duration",
                       "30s",
                       "--ramp",
                       "500ms",
                       "--chat-rate",
                       "0.5",
                       "--threads",
                       "2"},
                      &o, &error))
        << error;
    EXPECT_EQ(o.scenario, scenario_kind::rooms);
    EXPECT_EQ(o.server.host, "127.0.0.1");
    EXPECT_EQ(o.server.port, 9000);
    EXPECT_EQ(o.rooms, 200u);
    EXPECT_EQ(o.members, 50u);
    EXPECT_EQ(o.duration_ms, 30'000u);
    EXPECT_EQ(o.ramp_ms, 500u);
    EXPECT_DOUBLE_EQ(o.chat_rate, 0.5);
    EXPECT_EQ(o.total_connections(), 10'000u);
    EXPECT_FALSE(o.spread_sources);
}

TEST(BenchOptions, RefusesBadInput) {
    options o;
    std::string error;
    EXPECT_FALSE(parse({"dance"}, &o, &error));
    EXPECT_FALSE(parse({"rooms", "--rooms", "-1"}, &o, &error));
    EXPECT_FALSE(parse({"rooms", "--payload", "10"}, &o, &error));  // smaller than a stamp
    EXPECT_FALSE(parse({"rooms", "--members", "2", "--speakers", "2"}, &o, &error));
    EXPECT_FALSE(parse({"rooms", "--url", "http://x:1"}, &o, &error));
    EXPECT_FALSE(parse({"rooms", "--bogus", "1"}, &o, &error));
    EXPECT_FALSE(parse({"rooms", "--rooms"}, &o, &error));
    EXPECT_FALSE(parse({"rooms", "--protocol", "raw"}, &o, &error));  // needs a template
    EXPECT_FALSE(parse({"rooms", "--url-template", "ws://h:1/fixed"}, &o, &error));
}

TEST(BenchOptions, ReportPath) {
    options o;
    std::string error;
    ASSERT_TRUE(parse({"rooms", "--report", "out.html", "--json=out.json"}, &o, &error)) << error;
    EXPECT_EQ(o.report_path, "out.html");
    EXPECT_EQ(o.json_path, "out.json");
    EXPECT_FALSE(parse({"rooms", "--report="}, &o, &error));
    EXPECT_NE(error.find("--report"), std::string::npos);
}

TEST(BenchOptions, RawProtocolWithTemplateAndSelfEcho) {
    options o;
    std::string error;
    ASSERT_TRUE(parse({"flood", "--protocol", "raw", "--url-template", "ws://127.0.0.1:9001/{room}",
                       "--self-echo", "yes", "--members", "3", "--speakers", "3"},
                      &o, &error))
        << error;
    EXPECT_EQ(o.server.port, 9001);
    EXPECT_EQ(o.server.path_template, "/{room}");
    EXPECT_TRUE(o.self_echo);
}

TEST(BenchOptions, WssUrlsAndInsecure) {
    options o;
    std::string error;
    ASSERT_TRUE(
        parse({"flood", "--url", "wss://127.0.0.1:8443", "--insecure", "--rooms", "2"}, &o, &error))
        << error;
    EXPECT_TRUE(o.server.tls);
    EXPECT_EQ(o.server.port, 8443);
    EXPECT_TRUE(o.insecure);
    ASSERT_TRUE(parse({"flood", "--url", "wss://example.org"}, &o, &error)) << error;
    EXPECT_EQ(o.server.port, 443);
    EXPECT_FALSE(o.insecure);
    ASSERT_TRUE(parse({"flood", "--url", "ws://127.0.0.1:8080"}, &o, &error)) << error;
    EXPECT_FALSE(o.server.tls);
    EXPECT_FALSE(parse({"flood", "--url", "https://127.0.0.1:8443"}, &o, &error));
    EXPECT_NE(error.find("wss://"), std::string::npos) << error;
}

TEST(BenchOptions, IdleSpreadsSourcesByDefault) {
    options o;
    std::string error;
    ASSERT_TRUE(parse({"idle", "--connections", "5000"}, &o, &error)) << error;
    EXPECT_TRUE(o.spread_sources);
    EXPECT_EQ(o.total_connections(), 5000u);
}

TEST(BenchHttp, UpgradeResponseChecksStatusAndAcceptKey) {
    uint64_t rng = 12345;
    std::string key = make_websocket_key(&rng);
    ASSERT_TRUE(ws::valid_websocket_key(key));
    std::string good =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nsec-websocket-accept: " +
        ws::accept_key(key) + "\r\n\r\n\x82\x01";
    upgrade_response r = check_upgrade_response(good, key);
    EXPECT_EQ(r.status, upgrade_response::state::accepted);
    EXPECT_EQ(r.header_bytes, good.size() - 2);
    EXPECT_EQ(check_upgrade_response(good.substr(0, 40), key).status,
              upgrade_response::state::incomplete);
    std::string wrong = "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: nope\r\n\r\n";
    EXPECT_EQ(check_upgrade_response(wrong, key).status, upgrade_response::state::malformed);
    std::string refused = "HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\n{}";
    r = check_upgrade_response(refused, key);
    EXPECT_EQ(r.status, upgrade_response::state::refused);
    EXPECT_EQ(r.http_status, 409);
    EXPECT_EQ(r.body, "{}");
}

TEST(BenchProbe, PrometheusHistogramDeltaAndQuantile) {
    const char* before =
        "# TYPE chorus_fanout_seconds histogram\n"
        "chorus_fanout_seconds_bucket{le=\"1e-05\"} 10\n"
        "chorus_fanout_seconds_bucket{le=\"0.0001\"} 10\n"
        "chorus_fanout_seconds_bucket{le=\"+Inf\"} 10\n"
        "chorus_fanout_seconds_sum 0.00005\nchorus_fanout_seconds_count 10\n"
        "chorus_sends_total 100\nchorus_audio_deliveries_total 1000\n";
    const char* after =
        "chorus_fanout_seconds_bucket{le=\"1e-05\"} 100\n"
        "chorus_fanout_seconds_bucket{le=\"0.0001\"} 109\n"
        "chorus_fanout_seconds_bucket{le=\"+Inf\"} 110\n"
        "chorus_fanout_seconds_sum 0.00105\nchorus_fanout_seconds_count 110\n"
        "chorus_sends_total 150\nchorus_audio_deliveries_total 2000\n";
    server_breakdown b = breakdown_between(before, after);
    ASSERT_TRUE(b.ok);
    EXPECT_EQ(b.fanout.count, 100u);
    EXPECT_NEAR(b.fanout.sum, 0.001, 1e-12);
    EXPECT_DOUBLE_EQ(b.fanout.quantile(0.5), 1e-05);
    EXPECT_DOUBLE_EQ(b.fanout.quantile(0.95), 0.0001);
    EXPECT_TRUE(std::isinf(b.fanout.quantile(1.0)));
    EXPECT_DOUBLE_EQ(b.sends, 50);
    EXPECT_DOUBLE_EQ(b.deliveries, 1000);
    EXPECT_EQ(b.loop_pass.count, 0u);  // absent: left empty
}

}  // namespace
}  // namespace chorus::bench
