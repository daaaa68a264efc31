// Control messages (PROTOCOL.md §3): chat, whisper, mute, kick, ping. Each text message is
// rate limited, parsed once with simdjson on-demand into a small fixed struct, then acted on.
// Every rejected message gets exactly one error reply (too_fast at most once a second).
#include <cstring>

#include "core/base/clock.h"
#include "core/shard.h"
#include "ws/handshake.h"

namespace chorus::core {

namespace {

struct control_message {
    std::string_view type;
    std::string text;
    bool has_text = false;
    uint64_t to = 0;
    bool has_to = false;
    uint64_t member_id = 0;
    bool has_member = false;
    bool muted = false;
    bool has_muted = false;
    std::string t;  // ping: echoed verbatim
    bool has_t = false;
    std::string type_storage;
};

// The exact text of a value (ping's "t" is echoed verbatim), via on-demand raw views.
bool raw_value(simdjson::ondemand::value value, std::string& out) {
    using namespace simdjson;
    ondemand::json_type type;
    if (value.type().get(type)) return false;
    std::string_view raw;
    if (type == ondemand::json_type::object) {
        ondemand::object object;
        if (value.get_object().get(object) || object.raw_json().get(raw)) return false;
    } else if (type == ondemand::json_type::array) {
        ondemand::array array;
        if (value.get_array().get(array) || array.raw_json().get(raw)) return false;
    } else {
        raw = value.raw_json_token();
    }
    while (!raw.empty() &&
           (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
        raw.remove_suffix(1);
    out = raw;
    return true;
}

// Validates the whole message first (a DOM pass also rejects trailing garbage; integers too
// big for 64 bits are valid JSON, so that one error is let through), then extracts the fields
// with simdjson on-demand. Returns the reason for bad_message, or nullptr.
const char* parse_control(simdjson::dom::parser& dom, simdjson::ondemand::parser& parser,
                          std::string& input, size_t length, control_message& out) {
    using namespace simdjson;
    error_code valid = dom.parse(input.data(), length, false).error();
    if (valid != SUCCESS && valid != NUMBER_OUT_OF_RANGE && valid != NUMBER_ERROR)
        return "not JSON";
    ondemand::document doc;
    if (parser.iterate(input.data(), length, input.size()).get(doc)) return "not JSON";
    ondemand::object object;
    if (doc.get_object().get(object)) return "a message must be a JSON object";
    for (auto field : object) {
        std::string_view key;
        ondemand::value value;
        if (field.unescaped_key().get(key) || field.value().get(value)) return "not JSON";
        if (key == "type") {
            std::string_view type;
            if (value.get_string().get(type)) return "\"type\" must be a string";
            out.type_storage = type;
        } else if (key == "text") {
            std::string_view text;
            if (value.get_string().get(text)) return "\"text\" must be a string";
            out.text = text;
            out.has_text = true;
        } else if (key == "to" || key == "member") {
            uint64_t id;
            if (value.get_uint64().get(id)) return "member ids are integers";
            (key == "to" ? out.to : out.member_id) = id;
            (key == "to" ? out.has_to : out.has_member) = true;
        } else if (key == "muted") {
            if (value.get_bool().get(out.muted)) return "\"muted\" must be true or false";
            out.has_muted = true;
        } else if (key == "t") {
            if (!raw_value(value, out.t)) return "not JSON";
            out.has_t = true;
        }
    }
    out.type = out.type_storage;
    if (out.type.empty()) return "\"type\" is required";
    return nullptr;
}

}  // namespace

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
        uint64_t seq = r.ledger->next_seq();
        std::string json = "{\"type\":\"chat\",\"seq\":" + std::to_string(seq) +
                           ",\"from\":" + std::to_string(m->id) + ",\"text\":\"";
        ws::append_json_escaped(json, message.text);
        json += "\"}";
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
        if (target.connection) {
            queue_control(*target.connection, frame);
        } else if (target.held_whispers.size() < whispers_held_max) {
            target.held_whispers.push_back(frame);  // delivered after the replay on resume
            _pool.retain(frame);
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
            target->admin_muted = message.muted;
        } else if (!message.muted && m->admin_muted && !m->admin) {
            return send_error(s, "forbidden", "an admin muted you");
        } else if (!message.muted) {
            m->admin_muted = false;
        }
        target->muted = message.muted;
        uint64_t seq = r.ledger->next_seq();
        std::string json = "{\"type\":\"muted\",\"seq\":" + std::to_string(seq) +
                           ",\"member\":" + std::to_string(target->id) +
                           ",\"muted\":" + (message.muted ? "true" : "false") +
                           ",\"by\":" + std::to_string(m->id) + "}";
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
        if (target.connection) {
            close_with(*target.connection, 4001, "kicked");  // emits left (kicked)
        } else {
            member_gone(target, "kicked");
        }
    } else {
        send_error(s, "bad_message", "unknown message type");
    }
}

}  // namespace chorus::core
