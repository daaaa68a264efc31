// chorusd: the voice-room server's entry point. Parses flags into a server_config (with the
// defaults of PROTOCOL.md), says clearly what is wrong with a bad flag, and runs the server.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "core/base/duration.h"
#include "core/cluster/cluster_sync.h"
#include "core/cluster/redis_engine.h"
#include "core/limits.h"
#include "core/local_sync.h"
#include "core/server.h"

namespace {

using chorus::core::server_config;

const char* usage = R"(chorusd - voice-room WebSocket server

usage: chorusd [flags]
  --listen ADDR:PORT          listen address (default 0.0.0.0:8080; [::]:8080 for IPv6;
                              off: TLS only)
  --tls-listen ADDR:PORT      https/wss listener beside --listen (default 0.0.0.0:8443 when a
                              certificate or --tls-self-signed is given)
  --tls-cert FILE             PEM certificate chain, leaf first (reloaded on SIGHUP)
  --tls-key FILE              PEM private key for --tls-cert (reloaded on SIGHUP)
  --tls-self-signed           make a throwaway certificate at start (prints its fingerprint)
  --threads N                 event-loop threads, one per core (default: online CPUs)
  --io auto|uring|epoll       event-loop backend (default auto: io_uring, else epoll)
  --max-connections N         refuse with 503 beyond N (default: what the fd limit allows)
  --max-connections-per-ip N  per source address (default 0 = off)
  --max-room-members N        refuse with 409 beyond N (default 1000)
  --audio-batch D             send each receiver its room's audio once per window of D (e.g.
                              20ms; at most 100ms): fewer, larger sends for up to D more
                              latency. Default 0: audio goes out as soon as it arrives
  --max-seats N               mic seats a host may open in a room, at most 32 (default 32)
  --default-seats N           seats a new room starts with (default 0: seat mode off)
  --speaking-level N          0x03 level (-dBov, 0..127) at or below which a member is
                              speaking (default 50)
  --max-frame BYTES           largest message on a room connection (default 16384)
  --send-queue-soft BYTES     drop audio to a connection beyond this backlog (default 64KiB)
  --send-queue-hard BYTES     close a connection (1013) beyond this backlog (default 1MiB)
  --text-rate N               text messages per second per connection (default 20)
  --text-burst N              text message burst (default 50)
  --handshake-timeout D       (default 10s)   durations: 2, 2s, 500ms, 1m
  --ping-interval D           (default 20s)
  --idle-timeout D            (default 60s)
  --resume-grace D            (default 15s)
  --history N                 room events kept for resume (default 1000)
  --auth-secret S             turn on JWT (HS256) auth with this secret
  --auth-secret-file F        same, secret read from a file
  --allowed-origins A,B       refuse (403) other Origin headers
  --resume-key KEY            key for resume tokens (default: random per process)
  --echo-endpoint             serve the WebSocket echo endpoint /v1/echo
  --web DIR                   serve the page from DIR instead of the built-in copy
  --no-pin                    do not pin loop threads to cores
  --drain-timeout D           SIGTERM: wait this long for clients to go (default 10s)
cluster (docs/CLUSTER.md):
  --redis redis://[USER:PASSWORD@]HOST:PORT
                              share rooms with other nodes through Redis (repeatable: rooms are
                              spread over the servers by hash; every node lists them in one order)
  --redis-password-file F     the Redis password (AUTH) for every --redis without one; the user,
                              if any, comes from the URL (redis://USER@HOST:PORT)
  --cluster-secret S          keys resume tokens on every node (required with --redis)
  --cluster-secret-file F     same, read from a file
  --node-id ID                this node's name in the cluster (default: the --listen address)
  --node-timeout D            a node silent this long is dead (default 3s)
  --node-audio-batch D        room audio for another node waits up to D to go in one Redis
                              message with the rest (default 5ms; 0: every engine pass)
  --help                      this text
)";

bool fail(const std::string& message) {
    std::fprintf(stderr, "chorusd: %s (see --help)\n", message.c_str());
    return false;
}

bool parse_count(const std::string& flag, const std::string& text, uint32_t* out) {
    char* end = nullptr;
    unsigned long value = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || text[0] == '-' || value > 100'000'000)
        return fail(flag + " takes a whole number, not '" + text + "'");
    *out = static_cast<uint32_t>(value);
    return true;
}

bool parse_duration(const std::string& flag, const std::string& text, uint64_t* out) {
    auto value = chorus::base::parse_duration_ms(text);
    if (!value) return fail(flag + " takes a duration like 2, 2s or 500ms, not '" + text + "'");
    *out = *value;
    return true;
}

bool parse_bytes(const std::string& flag, const std::string& text, uint64_t* out) {
    auto value = chorus::base::parse_size_bytes(text);
    if (!value || *value == 0)
        return fail(flag + " takes a size like 65536 or 64KiB, not '" + text + "'");
    *out = *value;
    return true;
}

// --redis-password-file, for every --redis URL that carries no password of its own.
std::string redis_password;
uint64_t audio_batch_ms = 5;  // --node-audio-batch

bool read_secret_file(const std::string& path, std::string* out) {
    std::ifstream file(path);
    std::stringstream content;
    if (!file || !(content << file.rdbuf())) return false;
    *out = content.str();
    while (!out->empty() && (out->back() == '\n' || out->back() == '\r')) out->pop_back();
    return !out->empty();
}

bool apply(server_config& c, const std::string& flag, const std::string& v) {
    if (flag == "--listen") return c.listen = v, true;
    if (flag == "--threads") return parse_count(flag, v, &c.threads);
    if (flag == "--io") {
        if (v == "auto") return c.io = chorus::core::io_choice::automatic, true;
        if (v == "uring") return c.io = chorus::core::io_choice::uring, true;
        if (v == "epoll") return c.io = chorus::core::io_choice::epoll, true;
        return fail("--io takes auto, uring or epoll");
    }
    if (flag == "--max-connections") return parse_count(flag, v, &c.max_connections);
    if (flag == "--max-connections-per-ip") return parse_count(flag, v, &c.max_connections_per_ip);
    if (flag == "--max-room-members") return parse_count(flag, v, &c.max_room_members);
    if (flag == "--audio-batch") {
        uint64_t window = 0;
        if (!parse_duration(flag, v, &window)) return false;
        if (window > 100) return fail("--audio-batch is at most 100ms (audio waits it)");
        c.audio_batch_ms = static_cast<uint32_t>(window);
        return true;
    }
    if (flag == "--max-seats") return parse_count(flag, v, &c.max_seats);
    if (flag == "--default-seats") return parse_count(flag, v, &c.default_seats);
    if (flag == "--speaking-level") return parse_count(flag, v, &c.speaking_level);
    if (flag == "--max-frame") return parse_bytes(flag, v, &c.max_frame_bytes);
    if (flag == "--send-queue-soft") return parse_bytes(flag, v, &c.send_queue_soft_bytes);
    if (flag == "--send-queue-hard") return parse_bytes(flag, v, &c.send_queue_hard_bytes);
    if (flag == "--text-rate") return parse_count(flag, v, &c.text_rate);
    if (flag == "--text-burst") return parse_count(flag, v, &c.text_burst);
    if (flag == "--handshake-timeout") return parse_duration(flag, v, &c.handshake_timeout_ms);
    if (flag == "--ping-interval") return parse_duration(flag, v, &c.ping_interval_ms);
    if (flag == "--idle-timeout") return parse_duration(flag, v, &c.idle_timeout_ms);
    if (flag == "--resume-grace") return parse_duration(flag, v, &c.resume_grace_ms);
    if (flag == "--history") return parse_count(flag, v, &c.history);
    if (flag == "--auth-secret") return c.auth_secret = v, true;
    if (flag == "--auth-secret-file") {
        std::ifstream file(v);
        std::stringstream content;
        if (!file || !(content << file.rdbuf())) return fail("cannot read --auth-secret-file " + v);
        c.auth_secret = content.str();
        while (!c.auth_secret.empty() &&
               (c.auth_secret.back() == '\n' || c.auth_secret.back() == '\r'))
            c.auth_secret.pop_back();
        if (c.auth_secret.empty()) return fail("--auth-secret-file " + v + " is empty");
        return true;
    }
    if (flag == "--allowed-origins") {
        std::stringstream list(v);
        std::string origin;
        while (std::getline(list, origin, ','))
            if (!origin.empty()) c.allowed_origins.push_back(origin);
        return true;
    }
    if (flag == "--resume-key") return c.resume_key = v, true;
    if (flag == "--drain-timeout") return parse_duration(flag, v, &c.drain_timeout_ms);
    if (flag == "--node-timeout") return parse_duration(flag, v, &c.node_timeout_ms);
    if (flag == "--node-id") {
        if (v.empty() || v.size() > 128 || v.find_first_of("|/\n\r ") != std::string::npos)
            return fail("--node-id takes 1-128 characters without '|', '/' or spaces");
        return c.node_id = v, true;
    }
    if (flag == "--redis") {
        chorus::core::cluster::redis_address address;
        std::string error;
        if (!chorus::core::cluster::parse_redis_url(v, &address, &error))
            return fail("--redis " + chorus::core::cluster::redact_redis_url(v) + ": " + error);
        c.redis.push_back(v);
        return true;
    }
    if (flag == "--redis-password-file") {
        if (!read_secret_file(v, &redis_password))
            return fail("cannot read a password from --redis-password-file " + v);
        if (redis_password.find_first_of("\r\n") != std::string::npos)
            return fail("--redis-password-file " + v + " holds more than one line");
        return true;
    }
    if (flag == "--node-audio-batch") {
        if (!parse_duration(flag, v, &audio_batch_ms)) return false;
        if (audio_batch_ms > 100)
            return fail("--node-audio-batch is at most 100ms (audio waits it)");
        return true;
    }
    if (flag == "--cluster-secret") return c.cluster_secret = v, true;
    if (flag == "--cluster-secret-file") {
        if (!read_secret_file(v, &c.cluster_secret))
            return fail("cannot read a secret from --cluster-secret-file " + v);
        return true;
    }
    if (flag == "--web") return c.web_dir = v, true;
    if (flag == "--tls-listen") return c.tls_listen = v, true;
    if (flag == "--tls-cert") return c.tls_cert = v, true;
    if (flag == "--tls-key") return c.tls_key = v, true;
    return fail("unknown flag " + flag);
}

// The TLS flags go together: a certificate needs its key, and a TLS listener needs one or the
// other source of certificate.
bool check_tls_flags(server_config& c) {
    if (c.tls_cert.empty() != c.tls_key.empty())
        return fail("--tls-cert and --tls-key go together (a PEM chain and its private key)");
    if (!c.tls_cert.empty() && c.tls_self_signed)
        return fail("--tls-self-signed makes its own certificate; drop --tls-cert/--tls-key");
    if (!c.tls_listen.empty() && !c.tls())
        return fail("--tls-listen needs --tls-cert and --tls-key, or --tls-self-signed");
    if (c.tls() && c.tls_listen.empty()) c.tls_listen = "0.0.0.0:8443";
    if (!c.plain() && !c.tls())
        return fail("--listen off leaves nothing to listen on; add a TLS listener");
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    server_config config;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (arg == "--echo-endpoint") {
            config.echo_endpoint = true;
            continue;
        }
        if (arg == "--no-pin") {
            config.pin_threads = false;
            continue;
        }
        if (arg == "--tls-self-signed") {
            config.tls_self_signed = true;
            continue;
        }
        std::string flag = arg;
        std::string value;
        size_t equals = arg.find('=');
        if (equals != std::string::npos) {
            flag = arg.substr(0, equals);
            value = arg.substr(equals + 1);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fail(flag + " needs a value");
            return 2;
        }
        if (!apply(config, flag, value)) return 2;
    }
    if (config.send_queue_soft_bytes > chorus::core::send_queue_soft_bytes_limit) {
        fail("--send-queue-soft is at most 8MiB");
        return 2;
    }
    if (config.send_queue_hard_bytes < config.send_queue_soft_bytes) {
        fail("--send-queue-hard must not be below --send-queue-soft");
        return 2;
    }
    if (config.max_seats > chorus::core::seats_max) {
        fail("--max-seats is at most 32");
        return 2;
    }
    if (config.default_seats > config.max_seats) {
        fail("--default-seats must not be above --max-seats");
        return 2;
    }
    if (config.speaking_level > 127) {
        fail("--speaking-level is a level from 0 (loudest) to 127 (silence)");
        return 2;
    }
    if (!check_tls_flags(config)) return 2;
    if (config.max_frame_bytes > (64u << 20)) {
        fail("--max-frame is at most 64MiB");
        return 2;
    }
    if (!redis_password.empty() && config.redis.empty()) {
        fail("--redis-password-file needs --redis");
        return 2;
    }
    if (config.redis.empty()) {
        chorus::core::local_sync_provider local;
        return chorus::core::run_server(config, local);
    }
    if (config.cluster_secret.size() < 16) {
        fail("--redis needs --cluster-secret of at least 16 characters, the same on every node");
        return 2;
    }
    chorus::core::cluster::engine_config cluster;
    for (const std::string& url : config.redis) {
        chorus::core::cluster::redis_address address;
        std::string error;
        chorus::core::cluster::parse_redis_url(url, &address, &error);
        if (!address.has_credentials()) address.password = redis_password;
        if (!address.user.empty() && !address.has_credentials()) {
            fail("--redis " + chorus::core::cluster::redact_redis_url(url) + ": the user " +
                 address.user + " needs a password, in the URL or in --redis-password-file");
            return 2;
        }
        cluster.servers.push_back(address);
    }
    cluster.node_id = config.node_id.empty() ? (config.plain() ? config.listen : config.tls_listen)
                                             : config.node_id;
    cluster.node_timeout_ms = config.node_timeout_ms;
    cluster.heartbeat_ms = std::clamp<uint64_t>(config.node_timeout_ms / 3, 100, 1000);
    cluster.history = config.history;
    cluster.audio_batch_ms = audio_batch_ms;
    chorus::core::cluster::cluster_sync_provider syncs(
        chorus::core::cluster::make_redis_engine(cluster));
    return chorus::core::run_server(config, syncs);
}
