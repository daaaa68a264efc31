// chorus-bench flag parsing: every flag takes a value ("--rooms 200" or "--rooms=200"); durations
// use the server's syntax ("10", "10s", "500ms"). Limits keep a typo from opening a million
// sockets.
#include "bench/chorus_bench/options.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "core/base/duration.h"

namespace chorus::bench {
namespace {

constexpr uint64_t connections_limit = 1'000'000;
constexpr uint32_t threads_limit = 64;
constexpr uint32_t payload_bytes_min = 24;  // sender, room, sequence, timestamp
constexpr uint32_t payload_bytes_limit = 16'000;

bool parse_u32(const std::string& text, uint32_t min, uint32_t max, uint32_t* out) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
        return false;
    *out = static_cast<uint32_t>(value);
    return true;
}

bool parse_double(const std::string& text, double min, double max, double* out) {
    if (text.empty()) return false;
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !(value >= min && value <= max)) return false;
    *out = value;
    return true;
}

bool parse_yes_no(const std::string& text, bool* out) {
    if (text == "yes" || text == "true" || text == "1") {
        *out = true;
    } else if (text == "no" || text == "false" || text == "0") {
        *out = false;
    } else {
        return false;
    }
    return true;
}

bool parse_scenario(const std::string& text, scenario_kind* out) {
    static const scenario_kind all[] = {scenario_kind::rooms, scenario_kind::flood,
                                        scenario_kind::echo, scenario_kind::idle,
                                        scenario_kind::churn};
    for (scenario_kind kind : all) {
        if (text == scenario_name(kind)) {
            *out = kind;
            return true;
        }
    }
    return false;
}

// Applies one "--name value" pair; false with *error set when the value is bad.
bool apply(options& o, const std::string& name, const std::string& value, std::string* error,
           bool* spread_given) {
    bool ok = true;
    std::string path;
    if (name == "url") {
        ok = parse_ws_url(value, &o.server, &path, error);
        if (!ok) return false;
    } else if (name == "also-url") {
        target more;
        ok = parse_ws_url(value, &more, &path, error);
        if (!ok) return false;
        o.more_servers.push_back(more);
    } else if (name == "url-template") {
        ok = parse_ws_url(value, &o.server, &o.server.path_template, error);
        if (!ok) return false;
        if (o.server.path_template.find("{room}") == std::string::npos) {
            *error = "--url-template needs {room} in its path, e.g. ws://127.0.0.1:9001/{room}";
            return false;
        }
    } else if (name == "protocol") {
        ok = value == "chorus" || value == "raw";
        o.protocol = value == "raw" ? protocol_kind::raw : protocol_kind::chorus;
    } else if (name == "self-echo") {
        ok = parse_yes_no(value, &o.self_echo);
    } else if (name == "threads") {
        ok = parse_u32(value, 1, threads_limit, &o.threads);
    } else if (name == "io") {
        ok = value == "auto" || value == "uring" || value == "epoll";
        o.io = value;
    } else if (name == "rooms") {
        ok = parse_u32(value, 1, connections_limit, &o.rooms);
    } else if (name == "members") {
        ok = parse_u32(value, 1, 100'000, &o.members);
    } else if (name == "speakers") {
        ok = parse_u32(value, 0, 100'000, &o.speakers);
    } else if (name == "rate") {
        ok = parse_double(value, 0.001, 100'000, &o.rate);
    } else if (name == "payload") {
        ok = parse_u32(value, payload_bytes_min, payload_bytes_limit, &o.payload_bytes);
    } else if (name == "seats") {
        ok = parse_u32(value, 0, 32, &o.seats);
    } else if (name == "whisper-rate") {
        ok = parse_double(value, 0, 10'000, &o.whisper_rate);
    } else if (name == "chat-rate") {
        ok = parse_double(value, 0, 10'000, &o.chat_rate);
    } else if (name == "window") {
        ok = parse_u32(value, 1, 100'000, &o.window);
    } else if (name == "connections") {
        ok = parse_u32(value, 1, connections_limit, &o.connections);
    } else if (name == "size") {
        ok = parse_u32(value, 1, 16 << 20, &o.message_bytes);
    } else if (name == "depth") {
        ok = parse_u32(value, 1, 4096, &o.depth);
    } else if (name == "spread-sources") {
        ok = parse_yes_no(value, &o.spread_sources);
        *spread_given = true;
    } else if (name == "churn-rate") {
        ok = parse_double(value, 0.001, 1'000'000, &o.churn_rate);
    } else if (name == "churners") {
        ok = parse_u32(value, 1, connections_limit, &o.churners);
    } else if (name == "duration" || name == "ramp" || name == "drain") {
        auto ms = base::parse_duration_ms(value);
        ok = ms.has_value() && *ms <= 24ull * 3600 * 1000;
        if (ok)
            (name == "duration" ? o.duration_ms : name == "ramp" ? o.ramp_ms : o.drain_ms) = *ms;
    } else if (name == "max-loss") {
        ok = parse_double(value, 0, 1, &o.max_loss);
    } else if (name == "json") {
        o.json_path = value;
    } else if (name == "report") {
        o.report_path = value;
        ok = !value.empty();
    } else if (name == "server-pid") {
        uint32_t pid = 0;
        ok = parse_u32(value, 1, 1u << 30, &pid);
        o.server_pid = static_cast<int>(pid);
    } else if (name == "server-metrics") {
        o.server_metrics_url = value;
        ok = value.rfind("http://", 0) == 0;
    } else if (name == "run-id") {
        o.run_id = value;
        ok = !value.empty() && value.size() <= 24 &&
             value.find_first_not_of(
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789_.-") == std::string::npos;
    } else if (name == "quiet") {
        ok = parse_yes_no(value, &o.quiet);
    } else {
        *error = "unknown flag --" + name + " (see --help)";
        return false;
    }
    if (!ok) *error = "bad value for --" + name + ": '" + value + "' (see --help)";
    return ok;
}

// Cross-flag rules, checked once everything is parsed.
bool validate(options& o, std::string* error) {
    bool roomy = o.scenario == scenario_kind::rooms || o.scenario == scenario_kind::flood ||
                 o.scenario == scenario_kind::churn;
    bool hears_itself = o.protocol == protocol_kind::raw && o.self_echo;
    if (roomy && o.scenario != scenario_kind::churn &&
        (o.speakers > o.members || (o.speakers == o.members && !hears_itself))) {
        *error = "--speakers must be fewer than --members (someone has to listen)";
        return false;
    }
    if (o.seats > 0 && (o.scenario != scenario_kind::rooms || o.protocol != protocol_kind::chorus ||
                        o.speakers > o.seats)) {
        *error = "--seats is for chorus rooms, with at least one seat per speaker";
        return false;
    }
    if (o.protocol == protocol_kind::raw && o.server.path_template.empty()) {
        *error = "--protocol raw needs --url-template ws://HOST:PORT/{room}";
        return false;
    }
    if (o.protocol == protocol_kind::raw &&
        (o.scenario == scenario_kind::churn || o.chat_rate > 0 || o.whisper_rate > 0)) {
        *error = "--protocol raw supports rooms, flood, echo and idle without control traffic";
        return false;
    }
    if (o.total_connections() > connections_limit) {
        *error = "too many connections (at most 1000000)";
        return false;
    }
    if (o.churners == 0) o.churners = o.rooms;
    if (o.run_id.empty()) o.run_id = "b" + std::to_string(::getpid());
    return true;
}

}  // namespace

const char* scenario_name(scenario_kind kind) {
    switch (kind) {
        case scenario_kind::rooms:
            return "rooms";
        case scenario_kind::flood:
            return "flood";
        case scenario_kind::echo:
            return "echo";
        case scenario_kind::idle:
            return "idle";
        case scenario_kind::churn:
            return "churn";
    }
    return "?";
}

uint64_t options::total_connections() const {
    switch (scenario) {
        case scenario_kind::rooms:
        case scenario_kind::flood:
            return uint64_t{rooms} * members;
        case scenario_kind::churn:
            return uint64_t{rooms} * members + churners;
        case scenario_kind::echo:
        case scenario_kind::idle:
            return connections;
    }
    return 0;
}

bool parse_ws_url(const std::string& url, target* out, std::string* path, std::string* error) {
    bool tls = url.rfind("wss://", 0) == 0;
    if (!tls && url.rfind("ws://", 0) != 0) {
        *error = "URL must start with ws:// or wss://: " + url;
        return false;
    }
    std::string rest = url.substr(tls ? 6 : 5);
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    *path = slash == std::string::npos ? "" : rest.substr(slash);
    size_t colon = authority.rfind(':');
    uint32_t port = tls ? 443 : 80;
    if (colon != std::string::npos) {
        if (!parse_u32(authority.substr(colon + 1), 1, 65535, &port)) {
            *error = "bad port in URL: " + url;
            return false;
        }
        authority.resize(colon);
    }
    if (authority.empty()) {
        *error = "no host in URL: " + url;
        return false;
    }
    out->host = authority;
    out->port = static_cast<uint16_t>(port);
    out->tls = tls;
    return true;
}

bool parse_options(const std::vector<std::string>& args, options* out, std::string* error,
                   bool* help_requested) {
    *help_requested = false;
    options o;
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        *help_requested = !args.empty();
        *error = usage_text();
        return false;
    }
    if (!parse_scenario(args[0], &o.scenario)) {
        *error = "unknown scenario '" + args[0] + "': rooms, flood, echo, idle or churn";
        return false;
    }
    bool spread_given = false;
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--insecure") {  // the one flag without a value, as in curl
            o.insecure = true;
            continue;
        }
        if (arg == "--help" || arg == "-h") {
            *help_requested = true;
            *error = usage_text();
            return false;
        }
        if (arg.rfind("--", 0) != 0) {
            *error = "unexpected argument '" + arg + "' (flags look like --name value)";
            return false;
        }
        std::string name = arg.substr(2);
        std::string value;
        size_t equals = name.find('=');
        if (equals != std::string::npos) {
            value = name.substr(equals + 1);
            name.resize(equals);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            *error = "flag --" + name + " needs a value";
            return false;
        }
        if (!apply(o, name, value, error, &spread_given)) return false;
    }
    if (!spread_given) o.spread_sources = o.scenario == scenario_kind::idle;
    if (!validate(o, error)) return false;
    *out = o;
    return true;
}

const char* usage_text() {
    return "usage: chorus-bench SCENARIO --url ws[s]://HOST:PORT [flags]\n"
           "       chorus-bench ladder-report STEP.json... --report FILE.html [--title TEXT]\n"
           "       (one page for a load ladder: each step's --json against its rooms)\n"
           "scenarios:\n"
           "  rooms   paced voice rooms: --rooms R --members M --speakers S --rate 50 --payload "
           "120\n"
           "          [--whisper-rate X] [--chat-rate X] (per room per second)\n"
           "          [--seats N]  mic seats: speakers sit first and send 0x03 with a level\n"
           "  flood   speakers send as fast as the server takes it: --rooms --members --speakers\n"
           "          --payload [--window 64] (frames per speaker not yet seen by a listener)\n"
           "  echo    GET /v1/echo (chorusd --echo-endpoint): --connections N --size B --depth D\n"
           "  idle    hold --connections N open (sources spread over 127.0.0.0/8)\n"
           "  churn   joins/leaves with resume: --rooms --members (stay) --churners C\n"
           "          --churn-rate J (joins per second, all churners)\n"
           "common:\n"
           "  --duration 10s --ramp 2s --drain 3s --threads 1 --io auto|uring|epoll\n"
           "  --url wss://HOST:PORT  over TLS (TLS 1.2+); --insecure: accept any certificate\n"
           "  --protocol chorus|raw  raw: --url-template ws://HOST:PORT/{room} --self-echo yes|no\n"
           "  --also-url ws://HOST:PORT  another node of a cluster (repeatable): member i of\n"
           "                         each room joins server i mod (1 + extra servers)\n"
           "  --max-loss 0           exit 1 when loss or reorders exceed this fraction\n"
           "  --json FILE            results as JSON\n"
           "  --report FILE.html     one self-contained page: latency over time, distribution,\n"
           "                         deliveries/s, loss, CPU, server stages\n"
           "  --server-pid P         server CPU seconds (/proc/P/stat) and peak RSS (VmHWM)\n"
           "  --server-metrics URL   http://HOST:PORT/metrics: server-side latency breakdown\n"
           "  --spread-sources yes|no  --run-id ID (room-name prefix)  --quiet yes\n";
}

}  // namespace chorus::bench
