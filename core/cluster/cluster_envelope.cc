// Envelope and member-record parsing: split on '|' (or '\n' for records) a fixed number of times,
// with every numeric field checked.
#include "core/cluster/cluster_envelope.h"

#include <charconv>

#include "core/join_request.h"

namespace chorus::core {

namespace {

// Takes the text up to the next `separator` off the front of `in`.
bool take(std::string_view& in, char separator, std::string_view* field) {
    size_t at = in.find(separator);
    if (at == std::string_view::npos) return false;
    *field = in.substr(0, at);
    in.remove_prefix(at + 1);
    return true;
}

template <typename T>
bool number(std::string_view text, T* out) {
    if (text.empty() || text.size() > 20) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool parse_room_envelope(std::string_view in, envelope* out) {
    *out = envelope{};
    std::string_view type, field;
    if (!take(in, '|', &type) || type.size() != 1) return false;
    out->type = type[0];
    switch (out->type) {
        case 'E': {
            std::string_view kind;
            if (!take(in, '|', &field) || !number(field, &out->seq) || out->seq == 0) return false;
            if (!take(in, '|', &kind) || kind.size() != 1) return false;
            out->kind = kind[0];
            if (out->kind != 'j' && out->kind != 'l' && out->kind != 'm' && out->kind != 'c' &&
                out->kind != 's' && out->kind != 'h')
                return false;
            if (!take(in, '|', &field) || !number(field, &out->member) || out->member == 0)
                return false;
            if (!take(in, '|', &out->a1) || !take(in, '|', &out->a2)) return false;
            if (!take(in, '|', &out->op) || out->op.size() > op_id_bytes_max) return false;
            out->body = in;
            return !in.empty() && in.front() == '{' && in.back() == '}';
        }
        case 'M':
            if (!take(in, '|', &field) || !number(field, &out->member) || out->member == 0)
                return false;
            if (!take(in, '|', &out->instance) || out->instance.empty()) return false;
            return in.empty();
        case 'R':
            if (!take(in, '|', &out->instance) || out->instance.empty()) return false;
            return in.empty();
        default:
            return false;
    }
}

bool parse_node_envelope(std::string_view in, envelope* out) {
    *out = envelope{};
    std::string_view type, field;
    if (!take(in, '|', &type) || type.size() != 1) return false;
    out->type = type[0];
    if (out->type != 'W' && out->type != 'V') return false;
    if (!take(in, '|', &out->room) || !room_id_valid(out->room)) return false;
    if (!take(in, '|', &field) || !number(field, &out->member) || out->member == 0) return false;
    out->body = in;
    return in.size() >= 2;
}

bool parse_member_record(std::string_view in, member_record* out) {
    std::string_view field;
    if (!take(in, '\n', &out->instance) || out->instance.empty()) return false;
    if (!take(in, '\n', &field) || !number(field, &out->session)) return false;
    if (!take(in, '\n', &field) || (field != "0" && field != "1" && field != "2")) return false;
    out->muted = field != "0";
    out->admin_muted = field == "2";
    if (!take(in, '\n', &out->user) || out->user.empty()) return false;
    if (!take(in, '\n', &out->name)) return false;
    if (in.size() != 1 || in[0] < '0' || in[0] > '3') return false;
    out->speak = (in[0] - '0') & 1;
    out->admin = (in[0] - '0') & 2;
    return true;
}

std::string make_member_record(std::string_view instance, uint64_t session, bool muted,
                               bool admin_muted, std::string_view user_escaped,
                               std::string_view name_escaped, bool speak, bool admin) {
    std::string out(instance);
    out += '\n';
    out += std::to_string(session);
    out += admin_muted && muted ? "\n2\n" : muted ? "\n1\n" : "\n0\n";
    out += user_escaped;
    out += '\n';
    out += name_escaped;
    out += '\n';
    out += char('0' + (speak ? 1 : 0) + (admin ? 2 : 0));
    return out;
}

}  // namespace chorus::core
