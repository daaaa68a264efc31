// Query-string parameter lookup and RFC 3986 percent-decoding. No allocation beyond `out`.
#include "ws/query.h"

namespace chorus::ws {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    size_t i = 0;
    while (i < in.size()) {
        const size_t percent = in.find('%', i);
        if (percent == std::string_view::npos) {
            out.append(in.substr(i));
            return true;
        }
        out.append(in.substr(i, percent - i));
        if (in.size() - percent < 3) return false;
        const int high = hex_value(in[percent + 1]);
        const int low = hex_value(in[percent + 2]);
        if (high < 0 || low < 0) return false;
        out.push_back(static_cast<char>(high * 16 + low));
        i = percent + 3;
    }
    return true;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view key) {
    while (true) {
        const size_t amp = query.find('&');
        const std::string_view part = query.substr(0, amp);
        const size_t equals = part.find('=');
        const std::string_view name = part.substr(0, equals);
        if (name == key) {
            if (equals == std::string_view::npos) return std::string_view{};
            return part.substr(equals + 1);
        }
        if (amp == std::string_view::npos) return std::nullopt;
        query.remove_prefix(amp + 1);
    }
}

}  // namespace chorus::ws
