// Member input: control-message handlers and the start of the audio path.
#include "core/member_input.h"

#include <algorithm>

#include "core/base/clock.h"
#include "core/limits.h"
#include "ws/handshake.h"

namespace chorus::core {

namespace {

constexpr uint8_t audio_room = 0x01;
constexpr uint8_t audio_whisper = 0x02;
constexpr uint8_t audio_room_level = 0x03;  // v1.1: op, level, payload
constexpr uint8_t no_level = 0xff;

uint32_t read_u32_be(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

}  // namespace

member_input::member_input(session_writer& writer, room_sync& sync)
    : _writer(writer), _sync(sync), _metrics(writer.metrics()) {
    _json_input.reserve(writer.config().max_frame_bytes + simdjson::SIMDJSON_PADDING);
}

void member_input::on_text(session& s, std::span<const uint8_t> payload) {
    member* m = s.self;
    if (!m) return;
    _metrics.text_messages_in.add();
    if (!s.text_bucket.take(base::monotonic_ns())) {
        if (!_writer.limited(s, limited_error::too_fast))
            _writer.send_error(s, "too_fast", "too many messages; slow down");
        return;
    }
    _json_input.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
    size_t length = _json_input.size();
    _json_input.resize(length + simdjson::SIMDJSON_PADDING, '\0');
    control_message message;
    if (const char* problem = parse_control(_dom, _json, _json_input, length, message))
        return _writer.send_error(s, "bad_message", problem);
    std::string_view type = message.type;
    if (type == "ping") return on_ping(s, message);
    if (type == "chat") return on_chat(s, *m, message);
    if (type == "whisper") return on_whisper(s, *m, message);
    if (type == "mute") return on_mute(s, *m, message);
    if (type == "kick") return on_kick(s, *m, message);
    if (on_seat_message(s, *m, message)) return;
    _writer.send_error(s, "bad_message", "unknown message type");
}

member* member_input::target(session& s, member& m, uint64_t id) {
    member* found = id != 0 && id <= UINT32_MAX ? m.home->find(static_cast<uint32_t>(id)) : nullptr;
    if (!found) _writer.send_error(s, "no_such_member", "no member with that id in this room");
    return found;
}

void member_input::on_ping(session& s, const control_message& message) {
    _writer.send_text(s, "{\"type\":\"pong\",\"t\":" + (message.has_t ? message.t : "null") + "}");
}

void member_input::on_chat(session& s, member& m, const control_message& message) {
    if (!message.has_text) return _writer.send_error(s, "bad_message", "chat needs \"text\"");
    if (message.text.size() > chat_text_bytes_max)
        return _writer.send_error(s, "too_big", "text is limited to 4096 bytes");
    room_event event;
    event.kind = 'c';
    event.member = m.id;
    event.before = "{\"type\":\"chat\",\"seq\":";
    event.after = ",\"from\":" + std::to_string(m.id) + ",\"text\":\"";
    ws::append_json_escaped(event.after, message.text);
    event.after += "\"}";
    _sync.post_event(*m.home, std::move(event));
}

void member_input::on_whisper(session& s, member& m, const control_message& message) {
    if (!message.has_to || !message.has_text)
        return _writer.send_error(s, "bad_message", "whisper needs \"to\" and \"text\"");
    if (message.text.size() > chat_text_bytes_max)
        return _writer.send_error(s, "too_big", "text is limited to 4096 bytes");
    member* to = target(s, m, message.to);
    if (!to) return;
    std::string json = "{\"type\":\"whisper\",\"from\":" + std::to_string(m.id) + ",\"text\":\"";
    ws::append_json_escaped(json, message.text);
    json += "\"}";
    shared_frame* frame = _writer.text_frame(json);
    if (!_sync.route_whisper(*m.home, *to, frame, 'W')) m.home->whisper(*to, frame);
    _writer.pool().release(frame);
}

void member_input::on_mute(session& s, member& m, const control_message& message) {
    if (!message.has_muted) return _writer.send_error(s, "bad_message", "mute needs \"muted\"");
    member* muted = &m;
    if (message.has_member && message.member_id != m.id) {
        if (!m.admin) return _writer.send_error(s, "forbidden", "only an admin can mute others");
        if (message.member_id > UINT32_MAX ||
            !(muted = m.home->find(static_cast<uint32_t>(message.member_id))))
            return _writer.send_error(s, "no_such_member", "no member with that id in this room");
    } else if (!message.muted && m.admin_muted && !m.admin) {
        return _writer.send_error(s, "forbidden", "an admin muted you");
    }
    room_event event;
    event.kind = 'm';
    event.member = muted->id;
    event.muted = message.muted;
    event.by = m.id;
    event.before = "{\"type\":\"muted\",\"seq\":";
    event.after = ",\"member\":" + std::to_string(muted->id) +
                  ",\"muted\":" + (message.muted ? "true" : "false") +
                  ",\"by\":" + std::to_string(m.id) + "}";
    _sync.post_event(*m.home, std::move(event));  // flags change as the event is numbered
}

void member_input::on_kick(session& s, member& m, const control_message& message) {
    if (!message.has_member) return _writer.send_error(s, "bad_message", "kick needs \"member\"");
    if (!m.admin) return _writer.send_error(s, "forbidden", "only an admin can kick");
    member* kicked = message.member_id <= UINT32_MAX
                         ? m.home->find(static_cast<uint32_t>(message.member_id))
                         : nullptr;
    if (!kicked)
        return _writer.send_error(s, "no_such_member", "no member with that id in this room");
    _sync.kick(*kicked);
}

void member_input::on_binary(session& s, std::span<const uint8_t> payload) {
    member* m = s.self;
    if (!m) return;
    if (payload.empty()) {
        if (!_writer.limited(s, limited_error::bad_message))
            _writer.send_error(s, "bad_message", "empty binary message");
        return;
    }
    if (payload[0] == audio_room) {
        _metrics.audio_frames_in.add();
        room_audio(s, *m, payload.subspan(1), no_level);
    } else if (payload[0] == audio_room_level) {
        _metrics.audio_frames_in.add();
        if (payload.size() < 2) {
            if (!_writer.limited(s, limited_error::bad_message))
                _writer.send_error(s, "bad_message", "0x03 needs op, level and payload");
            return;
        }
        room_audio(s, *m, payload.subspan(2), std::min<uint8_t>(payload[1], 127));
    } else if (payload[0] == audio_whisper) {
        if (payload.size() < 5) {
            if (!_writer.limited(s, limited_error::bad_message))
                _writer.send_error(s, "bad_message",
                                   "whisper audio needs op, target u32 and payload");
            return;
        }
        _metrics.audio_frames_in.add();
        whisper_audio(s, *m, payload.subspan(1));
    } else if (!_writer.limited(s, limited_error::bad_message)) {
        _writer.send_error(s, "bad_message", "unknown binary op");
    }
}

// The seat check costs one scan of the room's seats per received frame, never per delivery.
void member_input::room_audio(session& s, member& m, std::span<const uint8_t> audio,
                              uint8_t level) {
    if (audio.empty()) return;  // nothing to relay
    room& r = *m.home;
    if (m.muted || !m.speak || !r.seats().may_speak(m.id)) {
        _metrics.audio_dropped_forbidden.add();
        if (!_writer.limited(s, limited_error::forbidden))
            _writer.send_error(s, "forbidden",
                               m.muted                       ? "you are muted"
                               : !m.speak                    ? "you may not speak here"
                               : r.seats().seat_of(m.id) < 0 ? "take a seat to speak"
                                                             : "your seat is muted");
        return;
    }
    fan_out_audio(m, audio, level);
}

// One encoded frame, one reference per receiver here, one hand-over to the room_sync.
void member_input::fan_out_audio(member& from, std::span<const uint8_t> audio, uint8_t level) {
    shared_frame* frame = _writer.audio_frame(audio_room, from.id, audio);
    room& r = *from.home;
    r.deliver_audio(frame, &from);
    _sync.publish_audio(r, frame, from.id, level);
    _writer.pool().release(frame);
    if (level != no_level) r.speaking().note(from.id, level, base::monotonic_ms());
}

void member_input::whisper_audio(session& s, member& from, std::span<const uint8_t> rest) {
    uint32_t to = read_u32_be(rest.data());
    std::span<const uint8_t> audio = rest.subspan(4);
    member* target = from.home->find(to);
    if (!target) {
        if (!_writer.limited(s, limited_error::no_such_member))
            _writer.send_error(s, "no_such_member", "no member with that id in this room");
        return;
    }
    if (from.muted || !from.speak) {
        _metrics.audio_dropped_forbidden.add();
        if (!_writer.limited(s, limited_error::forbidden))
            _writer.send_error(s, "forbidden",
                               from.muted ? "you are muted" : "you may not speak here");
        return;
    }
    if (audio.empty()) return;
    if (target->node == 0 && !target->connection) return;  // away: audio is dropped
    shared_frame* frame = _writer.audio_frame(audio_whisper, from.id, audio);
    if (!_sync.route_whisper(*from.home, *target, frame, 'V'))
        from.home->deliver_audio_to(*target, frame);
    _writer.pool().release(frame);
}

}  // namespace chorus::core
