// Test helpers for frame tests: a raw frame builder that can write illegal frames (reserved
// bits, non-minimal lengths) and a driver that feeds a message_reader in chosen pieces.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <ostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ws/frame.h"
#include "ws/message_reader.h"

namespace chorus::ws::testing {

constexpr uint8_t test_mask_key[4] = {0x37, 0xFA, 0x21, 0x3D};

enum class length_form { minimal, force16, force64 };

// A frame with first byte `first_byte` (FIN/RSV/opcode), masked with test_mask_key when masked.
inline std::string raw_frame(uint8_t first_byte, std::string_view payload, bool masked = true,
                             length_form form = length_form::minimal) {
    std::string out(1, static_cast<char>(first_byte));
    const uint8_t mask_bit = masked ? 0x80 : 0;
    const uint64_t size = payload.size();
    if (form == length_form::minimal && size < 126) {
        out.push_back(static_cast<char>(mask_bit | size));
    } else if (form == length_form::force16 || (form == length_form::minimal && size <= 0xFFFF)) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(size >> 8));
        out.push_back(static_cast<char>(size));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(size >> (56 - 8 * i)));
    }
    std::string body(payload);
    if (masked) {
        out.append(reinterpret_cast<const char*>(test_mask_key), 4);
        for (size_t i = 0; i < body.size(); ++i) body[i] ^= static_cast<char>(test_mask_key[i % 4]);
    }
    return out + body;
}

// Frames as a client sends them (masked) with FIN set unless fin is false.
inline std::string client_frame(opcode op, std::string_view payload, bool fin = true) {
    return raw_frame(static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(op)), payload);
}

struct event_record {
    event_record(read_event e, std::string p = {}, uint16_t code = 0, std::string reason = {})
        : event(e), payload(std::move(p)), close_code(code), close_reason(std::move(reason)) {}
    read_event event;
    std::string payload;
    uint16_t close_code = 0;
    std::string close_reason;
    bool operator==(const event_record&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const event_record& e) {
    return os << "{event " << static_cast<int>(e.event) << ", " << e.payload.size() << " bytes, "
              << e.close_code << " " << e.close_reason << "}";
}

// Feeds one piece, recording events until need_more or fail. need_more must use the whole piece.
inline void feed(message_reader& reader, std::string piece, std::vector<event_record>& events) {
    std::span<uint8_t> input(reinterpret_cast<uint8_t*>(piece.data()), piece.size());
    for (int calls = 0; calls < 100000; ++calls) {
        const read_result result = reader.next(input);
        ASSERT_LE(result.consumed, input.size());
        input = input.subspan(result.consumed);
        if (result.event == read_event::need_more) {
            ASSERT_TRUE(input.empty());
            return;
        }
        events.push_back({result.event,
                          std::string(reinterpret_cast<const char*>(result.payload.data()),
                                      result.payload.size()),
                          result.close_code, std::string(result.close_reason)});
        if (result.event == read_event::fail) return;
    }
    FAIL() << "reader did not finish a piece";
}

// Reads `stream` cut at the given offsets (ascending), with a fresh reader.
inline std::vector<event_record> read_split(const std::string& stream,
                                            const std::vector<size_t>& cuts, role r = role::server,
                                            size_t max = 1 << 20) {
    message_reader reader(r, max);
    std::vector<event_record> events;
    size_t start = 0;
    for (size_t cut : cuts) {
        feed(reader, stream.substr(start, cut - start), events);
        start = cut;
        if (!events.empty() && events.back().event == read_event::fail) return events;
    }
    feed(reader, stream.substr(start), events);
    return events;
}

inline std::vector<event_record> read_all(const std::string& stream, role r = role::server,
                                          size_t max = 1 << 20) {
    return read_split(stream, {}, r, max);
}

}  // namespace chorus::ws::testing
