// Everything chorusd can be told on its command line, with the defaults of PROTOCOL.md. Parsed
// in tools/ and handed to the server read-only; every shard sees the same copy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/loop.h"

namespace chorus::core {

enum class io_choice { automatic, uring, epoll };

struct server_config {
    std::string listen = "0.0.0.0:8080";  // "off": no plain listener (TLS only)
    // TLS (net/tls/): on when a certificate or the self-signed mode is given.
    std::string tls_listen;  // empty with TLS on: 0.0.0.0:8443
    std::string tls_cert;    // PEM chain, leaf first
    std::string tls_key;     // PEM private key
    bool tls_self_signed = false;
    bool tls() const { return !tls_cert.empty() || tls_self_signed; }
    bool plain() const { return listen != "off"; }
    uint32_t threads = 0;  // 0: online CPUs
    io_choice io = io_choice::automatic;
    uint32_t max_connections = 0;  // 0: what the fd limit allows
    uint32_t max_connections_per_ip = 0;
    uint64_t handshake_timeout_ms = 10'000;
    uint64_t ping_interval_ms = 20'000;
    uint64_t idle_timeout_ms = 60'000;
    uint64_t resume_grace_ms = 15'000;
    uint32_t history = 1000;
    uint64_t max_frame_bytes = 16 * 1024;
    uint64_t send_queue_soft_bytes = 64 * 1024;
    uint64_t send_queue_hard_bytes = 1024 * 1024;
    uint32_t text_rate = 20;
    uint32_t text_burst = 50;
    uint32_t max_room_members = 1000;
    // Audio for a receiver waits for its room's next window of this many ms (0: sent in the
    // pass it arrived in, the lowest latency).
    uint32_t audio_batch_ms = 0;
    // Mic seats (PROTOCOL.md v1.1): the most a host may open, how many a new room starts with,
    // and the level (-dBov) at or below which a 0x03 frame makes its sender speaking.
    uint32_t max_seats = 32;
    uint32_t default_seats = 0;
    uint32_t speaking_level = 50;
    std::string auth_secret;  // empty: dev mode
    std::vector<std::string> allowed_origins;
    bool echo_endpoint = false;
    std::string web_dir;     // empty: the page built into the binary
    std::string resume_key;  // empty: random per process
    bool pin_threads = true;
    uint64_t drain_timeout_ms = 10'000;  // SIGTERM: how long clients get to go
    // Cluster (empty redis: a single node).
    std::vector<std::string> redis;   // redis://host:port, rooms spread over them by hash
    std::string node_id;              // empty: the listen address
    std::string cluster_secret;       // keys resume tokens on every node
    uint64_t node_timeout_ms = 3000;  // a node silent this long is dead
};

}  // namespace chorus::core
