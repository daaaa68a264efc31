// Audio batch encoding and strict decoding (audio_batch.h).
#include "core/cluster/audio_batch.h"

#include "core/join_request.h"

namespace chorus::core::cluster {

namespace {

uint32_t read_u32(std::string_view in) {
    return static_cast<uint32_t>(static_cast<unsigned char>(in[0])) << 24 |
           static_cast<uint32_t>(static_cast<unsigned char>(in[1])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(in[2])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(in[3]));
}

// One record off the front of `in`, checked. False when malformed or cut short.
bool take_record(std::string_view& in, audio_record* out) {
    if (in.empty()) return false;
    size_t room_bytes = static_cast<unsigned char>(in[0]);
    size_t head = 1 + room_bytes + 1 + 4 + 4;
    if (room_bytes == 0 || room_bytes > audio_batch_room_bytes_max || in.size() < head)
        return false;
    out->room = in.substr(1, room_bytes);
    out->level = static_cast<uint8_t>(in[1 + room_bytes]);
    out->from = read_u32(in.substr(2 + room_bytes, 4));
    uint32_t frame_bytes = read_u32(in.substr(6 + room_bytes, 4));
    if (out->level > 127 && out->level != audio_batch_no_level) return false;
    if (frame_bytes < 2 || frame_bytes > audio_batch_frame_bytes_max ||
        in.size() - head < frame_bytes)
        return false;
    out->frame = in.substr(head, frame_bytes);
    in.remove_prefix(head + frame_bytes);
    return room_id_valid(out->room);
}

void append_u32(std::string& out, uint32_t n) {
    char bytes[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
    out.append(bytes, 4);
}

}  // namespace

void begin_audio_batch(std::string& out, std::string_view instance) {
    out.clear();
    out += "B|";
    out += instance;
    out += '|';
}

void append_audio_batch(std::string& out, const audio_record& record) {
    out += static_cast<char>(record.room.size());
    out += record.room;
    out += static_cast<char>(record.level);
    append_u32(out, record.from);
    append_u32(out, static_cast<uint32_t>(record.frame.size()));
    out += record.frame;
}

bool audio_batch_empty(std::string_view batch, std::string_view instance) {
    return batch.size() <= instance.size() + 3;
}

bool parse_audio_batch(std::string_view in, audio_batch* out) {
    *out = audio_batch{};
    if (!in.starts_with("B|")) return false;
    in.remove_prefix(2);
    size_t bar = in.find('|');
    if (bar == 0 || bar == std::string_view::npos || bar > 256) return false;
    std::string_view instance = in.substr(0, bar);
    std::string_view records = in.substr(bar + 1);
    if (records.empty()) return false;
    size_t frames = 0;
    for (std::string_view rest = records; !rest.empty(); ++frames) {
        audio_record record;
        if (!take_record(rest, &record)) return false;
    }
    out->instance = instance;
    out->records = records;
    out->frames = frames;
    return true;
}

bool next_audio_record(std::string_view& records, audio_record* out) {
    return take_record(records, out);
}

}  // namespace chorus::core::cluster
