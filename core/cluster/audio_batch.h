// The audio one node sends another in one Redis message: every room frame of one engine pass
// bound for that node, for all rooms that span both (docs/CLUSTER.md, "Audio between nodes").
//   B|instance|{room length: 1 byte}{room}{level: 1 byte}{sender: 4 bytes}{frame length: 4 bytes}
//              {frame}...                                         (numbers big-endian)
// `level` is the 0x03 audio level (0..127, for the receivers' speaking sets) or 0xFF for 0x01
// audio, which has none; `sender` is the member id the frame is from.
// Frames keep the order they were appended in, so each sender's order holds. The decoder takes
// bytes from the network: it checks every length and room id before anything is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::core::cluster {

inline constexpr size_t audio_batch_frame_bytes_max = 64u << 20;  // chorusd's --max-frame limit
inline constexpr size_t audio_batch_room_bytes_max = 64;          // a room id's limit
inline constexpr uint8_t audio_batch_no_level = 0xFF;             // 0x01 audio

// Starts `out` (cleared) as a batch from `instance` (non-empty, no '|').
void begin_audio_batch(std::string& out, std::string_view instance);
// One frame of a batch.
struct audio_record {
    std::string_view room;                 // a room id: 1-64 characters of [A-Za-z0-9_.-]
    uint8_t level = audio_batch_no_level;  // 0..127, or audio_batch_no_level
    uint32_t from = 0;                     // the sender's member id
    std::string_view frame;                // a server WebSocket frame, 2 bytes or more
};
// Appends one record.
void append_audio_batch(std::string& out, const audio_record& record);
// True when `batch` holds its header only.
bool audio_batch_empty(std::string_view batch, std::string_view instance);

struct audio_batch {
    std::string_view instance;
    std::string_view records;  // validated; walk them with next_audio_record
    size_t frames = 0;
};
// Checks a whole batch. False (nothing to use) on any malformed byte.
bool parse_audio_batch(std::string_view in, audio_batch* out);
// Takes the next record off `records` (from a parsed batch). False when none is left.
bool next_audio_record(std::string_view& records, audio_record* out);

}  // namespace chorus::core::cluster
