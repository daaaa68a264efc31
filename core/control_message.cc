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

}  // namespace

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

}  // namespace chorus::core
