// A client's control message (PROTOCOL.md §3) parsed into a small struct: one function from
// bytes to fields, with no room logic, so that it can be unit-tested and fuzzed on its own.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::core {

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
    // v1.1 seats and hands
    uint64_t seat = 0;
    bool has_seat = false;  // "seat" given: an integer, or null (seat_null)
    bool seat_null = false;
    uint64_t count = 0;
    bool has_count = false;
    bool locked = false;
    bool has_locked = false;
    bool raised = false;
    bool has_raised = false;
    std::string t;  // ping: echoed verbatim
    bool has_t = false;
    std::string type_storage;
};

// Parses input[0, length) (input.size() >= length + SIMDJSON_PADDING) into `out`. Returns the
// reason for a bad_message reply, or nullptr when the message is well-formed.
const char* parse_control(simdjson::dom::parser& dom, simdjson::ondemand::parser& parser,
                          std::string& input, size_t length, control_message& out);

}  // namespace chorus::core
