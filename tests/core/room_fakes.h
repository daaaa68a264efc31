// Fakes for testing rooms and room syncs without sockets: a writer with no loop (frames stay in
// each session's outbound queue), sessions that read back what was queued to them, and a sync
// host that records refusals and upgrades.
#pragma once

#include <sys/uio.h>

#include <memory>
#include <string>
#include <vector>

#include "core/local_sync.h"
#include "core/room_table.h"
#include "core/session_writer.h"

namespace chorus::core::fakes {

// What a session got, one entry per WebSocket frame: text payloads as they are, binary ones
// prefixed with "bin:", a close as "close:<code>".
inline std::vector<std::string> frames_of(session& s, frame_pool& pool) {
    std::string bytes;
    while (!s.out.empty()) {
        iovec iov[64];
        int count = s.out.fill(iov, 64);
        uint64_t taken = 0;
        for (int i = 0; i < count; ++i) {
            bytes.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
            taken += iov[i].iov_len;
        }
        s.out.consume(pool, taken);
    }
    std::vector<std::string> out;
    size_t at = 0;
    while (at + 2 <= bytes.size()) {
        auto op = static_cast<uint8_t>(bytes[at]) & 0x0f;
        uint64_t length = static_cast<uint8_t>(bytes[at + 1]) & 0x7f;
        size_t header = 2;
        if (length == 126) {
            length = (uint64_t(uint8_t(bytes[at + 2])) << 8) | uint8_t(bytes[at + 3]);
            header = 4;
        } else if (length == 127) {
            length = 0;
            for (int i = 0; i < 8; ++i) length = (length << 8) | uint8_t(bytes[at + 2 + i]);
            header = 10;
        }
        std::string payload = bytes.substr(at + header, length);
        if (op == 1) {
            out.push_back(payload);
        } else if (op == 8) {
            int code = (uint8_t(payload[0]) << 8) | uint8_t(payload[1]);
            out.push_back("close:" + std::to_string(code));
        } else {
            out.push_back("bin:" + payload);
        }
        at += header + length;
    }
    return out;
}

// A sync host with no shard: refusals and upgrades are recorded.
class fake_host final : public sync_host {
  public:
    session* find(net::conn_handle) override { return nullptr; }
    void refuse(session& s, int status, std::string_view, std::string_view) override {
        refused.push_back(status);
        s.phase = session_phase::closing;
    }
    void upgrade(session& s, bool) override {
        ++upgrades;
        s.phase = session_phase::websocket;
    }
    std::vector<int> refused;
    int upgrades = 0;
};

// A writer, a room table and a local_sync over fakes; sessions are made on demand.
struct room_world final : close_listener {
    // `audio_batch_ms`: the rooms' audio clock (--audio-batch), 0 for none.
    explicit room_world(uint32_t room_members_max = 1000, uint32_t audio_batch_ms = 0)
        : config(make_config(room_members_max, audio_batch_ms)) {
        writer.bind(nullptr, this);
        sync = std::make_unique<local_sync>(context);
    }
    ~room_world() override {
        for (auto& s : sessions) s->out.clear(pool);
    }
    session& new_session(bool websocket = false) {
        sessions.push_back(std::make_unique<session>());
        session& s = *sessions.back();
        s.phase = websocket ? session_phase::websocket : session_phase::http;
        return s;
    }
    void on_member_closed(member& m, uint16_t code) override { member_closed(*sync, m, code); }
    std::vector<std::string> frames(session& s) { return frames_of(s, pool); }
    static server_config make_config(uint32_t room_members_max, uint32_t audio_batch_ms) {
        server_config c;
        c.max_room_members = room_members_max;
        c.history = 16;
        c.audio_batch_ms = audio_batch_ms;
        return c;
    }

    server_config config;
    frame_pool pool;
    shard_metrics metrics;
    session_writer writer{config, pool, metrics};
    std::vector<std::unique_ptr<session>> sessions;  // outlive the rooms that point at them
    local_ledger_factory ledgers{16};
    room_table rooms{writer, ledgers};
    fake_host host;
    std::string resume_key = "0123456789abcdef0123456789abcdef";
    sync_context context{0, config, resume_key, writer, rooms, host};
    std::unique_ptr<local_sync> sync;
};

}  // namespace chorus::core::fakes
