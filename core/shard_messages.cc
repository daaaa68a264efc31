// What arrives after the upgrade: frames through the RFC 6455 reader, then the echo endpoint,
// the control messages of PROTOCOL.md §3 (JSON via simdjson on-demand) and audio (§4), whose
// fan-out encodes each outgoing frame once and queues a reference per receiver.
#include <cstring>

#include "core/base/clock.h"
#include "core/shard.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace chorus::core {

namespace {

constexpr uint8_t audio_room = 0x01;
constexpr uint8_t audio_whisper = 0x02;

uint32_t read_u32_be(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
void write_u32_be(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}

}  // namespace

shared_frame* shard::text_frame(std::string_view json) {
    shared_frame* frame = _pool.allocate(json.size() + ws::frame_header_bytes_max);
    size_t header = ws::encode_frame_header(frame->data(), ws::opcode::text, json.size());
    std::memcpy(frame->data() + header, json.data(), json.size());
    frame->size = static_cast<uint32_t>(header + json.size());
    return frame;
}

shared_frame* shard::close_frame(uint16_t code, std::string_view reason) {
    std::string bytes;
    ws::append_close_frame(bytes, code, reason.substr(0, 120));
    shared_frame* frame = _pool.allocate(bytes.size());
    std::memcpy(frame->data(), bytes.data(), bytes.size());
    frame->size = static_cast<uint32_t>(bytes.size());
    return frame;
}

// The server's audio frame: op | from u32 BE | payload, as one binary WebSocket frame.
shared_frame* shard::audio_frame(uint8_t op, uint32_t from, std::span<const uint8_t> audio) {
    size_t body = 5 + audio.size();
    shared_frame* frame = _pool.allocate(body + 10);
    uint8_t* out = frame->data();
    size_t header = ws::encode_frame_header(out, ws::opcode::binary, body);
    out[header] = op;
    write_u32_be(out + header + 1, from);
    ws::copy_payload(out + header + 5, audio.data(), audio.size());
    frame->size = static_cast<uint32_t>(header + body);
    return frame;
}

void shard::on_ws_data(session& s, std::span<uint8_t> data) {
    uint64_t received_ns = 0;
    while (s.phase == session_phase::websocket) {
        ws::read_result r = s.reader.next(data);
        data = data.subspan(r.consumed);
        switch (r.event) {
            case ws::read_event::need_more:
                if (data.empty() || r.consumed == 0) {
                    if (s.reader.buffered_bytes() == 0) s.reader.release_buffer();
                    return;
                }
                break;
            case ws::read_event::text:
            case ws::read_event::binary: {
                _metrics.frames_in.add();
                bool text = r.event == ws::read_event::text;
                if (s.kind == session_kind::echo) {
                    shared_frame* frame = _pool.allocate(r.payload.size() + 10);
                    size_t header = ws::encode_frame_header(
                        frame->data(), text ? ws::opcode::text : ws::opcode::binary,
                        r.payload.size());
                    ws::copy_payload(frame->data() + header, r.payload.data(), r.payload.size());
                    frame->size = static_cast<uint32_t>(header + r.payload.size());
                    queue_control(s, frame);  // a peer that does not read is closed (1013)
                    _pool.release(frame);
                } else if (text) {
                    on_text(s, r.payload);
                } else {
                    if (received_ns == 0) received_ns = base::monotonic_ns();
                    if (_fanout_started.size() < fanout_timestamps_max)
                        _fanout_started.push_back(received_ns);
                    on_binary(s, r.payload);
                }
                break;
            }
            case ws::read_event::ping: {
                std::string pong;
                ws::append_frame(
                    pong, ws::opcode::pong,
                    {reinterpret_cast<const char*>(r.payload.data()), r.payload.size()});
                shared_frame* frame = _pool.allocate(pong.size());
                std::memcpy(frame->data(), pong.data(), pong.size());
                frame->size = static_cast<uint32_t>(pong.size());
                queue_control(s, frame);
                _pool.release(frame);
                break;
            }
            case ws::read_event::pong:
                s.ping_outstanding = false;
                break;
            case ws::read_event::close:
                on_peer_close(s, r.close_code);
                return;
            case ws::read_event::fail:
                close_with(s, r.close_code, r.close_reason);
                return;
        }
    }
}

// The peer started the closing handshake: answer with its code and leave (reason "closed").
void shard::on_peer_close(session& s, uint16_t code) {
    uint16_t reply = code == 1005 ? 1000 : code;
    if (s.self) member_gone(*s.self, "closed");
    _metrics.count_close(reply);
    s.close_code = reply;
    s.phase = session_phase::closing;
    s.close_queued = true;
    s.closing_since_ms = now_ms() | 1;
    shared_frame* frame = _pool.allocate(4 + 2);
    std::string bytes;
    ws::append_close_frame(bytes, code == 1005 ? 0 : reply, {});
    std::memcpy(frame->data(), bytes.data(), bytes.size());
    frame->size = static_cast<uint32_t>(bytes.size());
    queue(s, frame);
    _pool.release(frame);
}

// True when an error of this kind went out less than a second ago (so this one is not sent).
bool shard::limited(session& s, limited_error which) {
    uint32_t now = now_ms() + 1;  // 0 means "never sent"
    uint32_t& last = s.error_second[static_cast<int>(which)];
    if (last != 0 && now - last < 1000) return true;
    last = now;
    return false;
}

void shard::send_error(session& s, std::string_view code, std::string_view message) {
    std::string json = "{\"type\":\"error\",\"code\":\"";
    json += code;
    json += "\",\"message\":\"";
    ws::append_json_escaped(json, message);
    json += "\"}";
    shared_frame* frame = text_frame(json);
    queue_control(s, frame);
    _pool.release(frame);
}

void shard::on_binary(session& s, std::span<const uint8_t> payload) {
    member* m = s.self;
    if (!m) return;
    if (payload.empty()) {
        if (!limited(s, limited_error::bad_message))
            send_error(s, "bad_message", "empty binary message");
        return;
    }
    if (payload[0] == audio_room) {
        _metrics.audio_frames_in.add();
        if (payload.size() == 1) return;  // nothing to relay
        if (m->muted || !m->speak) {
            _metrics.audio_dropped_forbidden.add();
            if (!limited(s, limited_error::forbidden))
                send_error(s, "forbidden", m->muted ? "you are muted" : "you may not speak here");
            return;
        }
        fan_out_audio(s, *m, payload.subspan(1));
    } else if (payload[0] == audio_whisper) {
        if (payload.size() < 5) {
            if (!limited(s, limited_error::bad_message))
                send_error(s, "bad_message", "whisper audio needs op, target u32 and payload");
            return;
        }
        _metrics.audio_frames_in.add();
        whisper_audio(s, *m, payload.subspan(1));
    } else if (!limited(s, limited_error::bad_message)) {
        send_error(s, "bad_message", "unknown binary op");
    }
}

// One encoded frame, one reference per receiver. A receiver whose backlog (see backlog()) is over
// the soft limit loses this frame (audio is lossy); nobody else waits for it.
void shard::fan_out_audio(session& s, member& from, std::span<const uint8_t> audio) {
    shared_frame* frame = audio_frame(audio_room, from.id, audio);
    deliver_audio(*from.home, frame, &from);
    if (clustered()) cluster_publish_audio(*from.home, frame);
    _pool.release(frame);
    (void)s;
}

// Queues an audio frame to every present member but `except` (room audio from this node, or
// from another node through Redis).
void shard::deliver_audio(room& r, shared_frame* frame, const member* except) {
    uint64_t soft = _config.send_queue_soft_bytes;
    for (member* other : r.present) {
        if (other == except) continue;
        session& target = *other->connection;
        if (backlog(target) >= soft) {
            _metrics.audio_dropped_slow.add();
            continue;
        }
        queue(target, frame);
        _metrics.audio_deliveries.add();
    }
}

// An already encoded WebSocket frame (from another node) in a pooled buffer.
shared_frame* shard::copy_frame(std::string_view bytes) {
    shared_frame* frame = _pool.allocate(bytes.size());
    std::memcpy(frame->data(), bytes.data(), bytes.size());
    frame->size = static_cast<uint32_t>(bytes.size());
    return frame;
}

void shard::whisper_audio(session& s, member& from, std::span<const uint8_t> rest) {
    uint32_t to = read_u32_be(rest.data());
    std::span<const uint8_t> audio = rest.subspan(4);
    auto found = from.home->members.find(to);
    if (found == from.home->members.end()) {
        if (!limited(s, limited_error::no_such_member))
            send_error(s, "no_such_member", "no member with that id in this room");
        return;
    }
    if (from.muted || !from.speak) {
        _metrics.audio_dropped_forbidden.add();
        if (!limited(s, limited_error::forbidden))
            send_error(s, "forbidden", from.muted ? "you are muted" : "you may not speak here");
        return;
    }
    member& target = *found->second;
    if (audio.empty()) return;
    if (clustered() && target.node != 0) {
        shared_frame* frame = audio_frame(audio_whisper, from.id, audio);
        cluster_whisper(*from.home, target, frame, 'V');
        _pool.release(frame);
        return;
    }
    if (!target.connection) return;  // away: audio is dropped
    if (backlog(*target.connection) >= _config.send_queue_soft_bytes) {
        _metrics.audio_dropped_slow.add();
        return;
    }
    shared_frame* frame = audio_frame(audio_whisper, from.id, audio);
    queue(*target.connection, frame);
    _metrics.audio_deliveries.add();
    _pool.release(frame);
}

}  // namespace chorus::core
