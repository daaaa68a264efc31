// Control-message parsing: a full validation pass (DOM) then field extraction (on-demand).
#include "core/control_message.h"

namespace chorus::core {

// The exact text of a value (ping's "t" is echoed verbatim), via on-demand raw views.
namespace {

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

// True when text is one JSON number by the grammar of RFC 8259.
bool json_number(std::string_view text) {
    size_t i = 0;
    auto digits = [&] {
        size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
        return i > start;
    };
    if (i < text.size() && text[i] == '-') ++i;
    if (i < text.size() && text[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == text.size();
}

// simdjson reports a number it cannot hold (beyond 64 bits, or a float out of range) with the
// same error as a malformed one, yet such numbers are valid JSON and "t" may be anything. On
// that error, every well-formed number outside strings is masked to 0 (same length) in a copy,
// which must then validate: malformed numbers and everything else are still judged.
bool valid_json(simdjson::dom::parser& dom, const std::string& input, size_t length) {
    simdjson::error_code error = dom.parse(input.data(), length, false).error();
    if (error == simdjson::SUCCESS) return true;
    if (error != simdjson::NUMBER_ERROR) return false;
    std::string masked = input;
    auto number_char = [](char c) {
        return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
    };
    bool in_string = false;
    for (size_t i = 0; i < length; ++i) {
        char c = masked[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
            continue;
        }
        if (!number_char(c)) continue;
        size_t end = i;
        while (end < length && number_char(masked[end])) ++end;
        if (json_number(std::string_view(masked).substr(i, end - i))) {
            masked[i] = '0';
            for (size_t k = i + 1; k < end; ++k) masked[k] = ' ';
        }
        i = end - 1;
    }
    return dom.parse(masked.data(), length, false).error() == simdjson::SUCCESS;
}

}  // namespace

// Validates the whole message first (a DOM pass also rejects trailing garbage; integers too
// big for 64 bits are valid JSON, so that one error is let through), then extracts the fields
// with simdjson on-demand. Returns the reason for bad_message, or nullptr.
const char* parse_control(simdjson::dom::parser& dom, simdjson::ondemand::parser& parser,
                          std::string& input, size_t length, control_message& out) {
    using namespace simdjson;
    if (!valid_json(dom, input, length)) return "not JSON";
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
        } else if (key == "seat") {
            out.has_seat = true;
            ondemand::json_type seat_type;
            if (value.type().get(seat_type)) return "not JSON";
            if (seat_type == ondemand::json_type::null) {
                out.seat_null = true;
            } else if (value.get_uint64().get(out.seat)) {
                return "\"seat\" must be a seat number or null";
            }
        } else if (key == "count") {
            if (value.get_uint64().get(out.count)) return "\"count\" must be a whole number";
            out.has_count = true;
        } else if (key == "locked") {
            if (value.get_bool().get(out.locked)) return "\"locked\" must be true or false";
            out.has_locked = true;
        } else if (key == "raised") {
            if (value.get_bool().get(out.raised)) return "\"raised\" must be true or false";
            out.has_raised = true;
        } else if (key == "t") {
            if (!raw_value(value, out.t)) return "not JSON";
            out.has_t = true;
        }
    }
    out.type = out.type_storage;
    if (out.type.empty()) return "\"type\" is required";
    return nullptr;
}

}  // namespace chorus::core
