// Control messages (PROTOCOL.md §3): chat, whisper, mute, kick, ping. Each text message is
// rate limited, parsed once with simdjson on-demand into a small fixed struct, then acted on.
// Every rejected message gets exactly one error reply (too_fast at most once a second).
#include <cstring>

#include "core/base/clock.h"
#include "core/control_message.h"
#include "core/shard.h"
#include "ws/handshake.h"

namespace chorus::core {

void shard::on_text(session& s, std::span<const uint8_t> payload) {
    member* m = s.self;
    if (!m) return;
    _metrics.text_messages_in.add();
    if (!s.text_bucket.take(base::monotonic_ns())) {
        if (!limited(s, limited_error::too_fast))
            send_error(s, "too_fast", "too many messages; slow down");
        return;
    }
    _json_input.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
    size_t length = _json_input.size();
    _json_input.resize(length + simdjson::SIMDJSON_PADDING, '\0');
    control_message message;
    if (const char* problem = parse_control(_dom, _json, _json_input, length, message)) {
        send_error(s, "bad_message", problem);
        return;
    }
    _scratch.clear();
    room& r = *m->home;
    std::string_view type = message.type;
    if (type == "ping") {
        std::string json = "{\"type\":\"pong\",\"t\":" + (message.has_t ? message.t : "null") + "}";
        shared_frame* frame = text_frame(json);
        queue_control(s, frame);
        _pool.release(frame);
    } else if (type == "chat") {
        if (!message.has_text) return send_error(s, "bad_message", "chat needs \"text\"");
        if (message.text.size() > chat_text_bytes_max)
            return send_error(s, "too_big", "text is limited to 4096 bytes");
        std::string after = ",\"from\":" + std::to_string(m->id) + ",\"text\":\"";
        ws::append_json_escaped(after, message.text);
        after += "\"}";
        if (clustered())
            return cluster_room_event(r, 'c', m->id, "", "",
                                      "{\"type\":\"chat\",\"seq\":", std::move(after), 0);
        std::string json =
            "{\"type\":\"chat\",\"seq\":" + std::to_string(r.ledger->next_seq()) + after;
        broadcast_event(r, json, nullptr);
    } else if (type == "whisper") {
        if (!message.has_to || !message.has_text)
            return send_error(s, "bad_message", "whisper needs \"to\" and \"text\"");
        if (message.text.size() > chat_text_bytes_max)
            return send_error(s, "too_big", "text is limited to 4096 bytes");
        auto found = message.to <= UINT32_MAX ? r.members.find(static_cast<uint32_t>(message.to))
                                              : r.members.end();
        if (message.to == 0 || found == r.members.end())
            return send_error(s, "no_such_member", "no member with that id in this room");
        std::string json =
            "{\"type\":\"whisper\",\"from\":" + std::to_string(m->id) + ",\"text\":\"";
        ws::append_json_escaped(json, message.text);
        json += "\"}";
        shared_frame* frame = text_frame(json);
        member& target = *found->second;
        if (clustered() && cluster_whisper(r, target, frame, 'W')) {
            // on its way to the target's node
        } else if (target.connection) {
            queue_control(*target.connection, frame);
        } else {
            if (!target.held_whispers)
                target.held_whispers = std::make_unique<std::vector<shared_frame*>>();
            if (target.held_whispers->size() < whispers_held_max) {
                target.held_whispers->push_back(frame);  // delivered after the replay on resume
                _pool.retain(frame);
            }
        }
        _pool.release(frame);
    } else if (type == "mute") {
        if (!message.has_muted) return send_error(s, "bad_message", "mute needs \"muted\"");
        member* target = m;
        if (message.has_member && message.member_id != m->id) {
            if (!m->admin) return send_error(s, "forbidden", "only an admin can mute others");
            auto found = message.member_id <= UINT32_MAX
                             ? r.members.find(static_cast<uint32_t>(message.member_id))
                             : r.members.end();
            if (found == r.members.end())
                return send_error(s, "no_such_member", "no member with that id in this room");
            target = found->second.get();
        } else if (!message.muted && m->admin_muted && !m->admin) {
            return send_error(s, "forbidden", "an admin muted you");
        }
        std::string after = ",\"member\":" + std::to_string(target->id) +
                            ",\"muted\":" + (message.muted ? "true" : "false") +
                            ",\"by\":" + std::to_string(m->id) + "}";
        if (clustered())  // the flags change when the event comes back, on every node
            return cluster_room_event(r, 'm', target->id, message.muted ? "1" : "0",
                                      std::to_string(m->id),
                                      "{\"type\":\"muted\",\"seq\":", std::move(after), target->id);
        if (target != m) {
            target->admin_muted = message.muted;
        } else if (!message.muted) {
            m->admin_muted = false;
        }
        target->muted = message.muted;
        std::string json =
            "{\"type\":\"muted\",\"seq\":" + std::to_string(r.ledger->next_seq()) + after;
        broadcast_event(r, json, nullptr);
    } else if (type == "kick") {
        if (!message.has_member) return send_error(s, "bad_message", "kick needs \"member\"");
        if (!m->admin) return send_error(s, "forbidden", "only an admin can kick");
        auto found = message.member_id <= UINT32_MAX
                         ? r.members.find(static_cast<uint32_t>(message.member_id))
                         : r.members.end();
        if (found == r.members.end())
            return send_error(s, "no_such_member", "no member with that id in this room");
        member& target = *found->second;
        if (clustered()) {
            cluster_leave(target, "kicked");  // its node closes it (4001) on the `left`
        } else if (target.connection) {
            close_with(*target.connection, 4001, "kicked");  // emits left (kicked)
        } else {
            member_gone(target, "kicked");
        }
    } else {
        send_error(s, "bad_message", "unknown message type");
    }
}

}  // namespace chorus::core
