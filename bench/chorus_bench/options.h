// chorus-bench command line: the scenario, where the server is, and the shape of the load.
// Parsing is a pure function (no I/O) so it can be unit-tested; main() prints the error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chorus::bench {

enum class scenario_kind { rooms, flood, echo, idle, churn };
enum class protocol_kind { chorus, raw };

const char* scenario_name(scenario_kind kind);

// Where connections go: a host:port plus, for --protocol raw, a path template with {room}.
struct target {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;
    std::string path_template;  // raw only: "/{room}"
    bool tls = false;           // wss://
};

struct options {
    scenario_kind scenario = scenario_kind::rooms;
    protocol_kind protocol = protocol_kind::chorus;
    target server;
    std::vector<target> more_servers;  // --also-url: each room's members alternate over all
    bool self_echo = false;            // raw: the server also sends a frame back to its sender

    uint32_t threads = 1;
    std::string io = "auto";  // auto | uring | epoll
    bool insecure = false;    // wss:// without checking the certificate (self-signed servers)

    // rooms, flood, churn
    uint32_t rooms = 10;
    uint32_t members = 10;
    uint32_t speakers = 2;
    double rate = 50;  // audio frames per second per speaker (rooms)
    uint32_t payload_bytes = 120;
    double whisper_rate = 0;  // text whispers per second per room
    double chat_rate = 0;     // chat messages per second per room
    uint32_t window = 64;     // flood: frames per speaker not yet seen by the room's probe
    // rooms: open this many mic seats (protocol v1.1; member 0 joins as host and opens them),
    // speakers take one before they talk and send 0x03 with a level. 0: plain 0x01, no seats.
    uint32_t seats = 0;

    // echo, idle
    uint32_t connections = 1000;
    uint32_t message_bytes = 100;  // echo
    uint32_t depth = 1;            // echo: messages in flight per connection
    bool spread_sources = false;   // bind sources across 127.0.0.0/8 (default on for idle)

    // churn
    double churn_rate = 50;  // joins per second, all churners together
    uint32_t churners = 0;   // 0: one per room

    uint64_t duration_ms = 10'000;
    uint64_t ramp_ms = 2'000;
    uint64_t drain_ms = 3'000;  // after the last send, how long to wait for stragglers
    double max_loss = 0;        // fraction; exit 1 beyond (loss or reorders)
    std::string json_path;
    std::string report_path;  // --report: the HTML report
    int server_pid = 0;
    std::string server_metrics_url;
    std::string run_id;  // room-name prefix; default derived from the pid
    bool quiet = false;

    // Derived: connections this run opens.
    uint64_t total_connections() const;
};

// Parses argv[1..]. On failure returns false with a message for people in *error. "--help" sets
// *error to the usage text and *help_requested.
bool parse_options(const std::vector<std::string>& args, options* out, std::string* error,
                   bool* help_requested);

// "ws://host:port[/...]" -> host, port and the path (may be empty).
bool parse_ws_url(const std::string& url, target* out, std::string* path, std::string* error);

const char* usage_text();

}  // namespace chorus::bench
