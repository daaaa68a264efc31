// RFC 9112 request-head parsing. Lines are checked as soon as they have fully arrived, so garbage
// from a non-HTTP client is refused early, yet any prefix of a valid head is only "incomplete".
// The parser keeps no state between calls: re-scanning a head of at most 8 KiB is cheap.
#include "ws/http_request.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace chorus::ws {
namespace {

struct parse_error {
    int http_status = 0;
    const char* message = nullptr;
};

// tchar (RFC 9110 5.6.2) as a table: the parser checks every byte of every header name.
constexpr auto tchar_table = [] {
    std::array<bool, 256> table{};
    for (int c = '0'; c <= '9'; ++c) table[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<uint8_t>(c)] = true;
    return table;
}();

bool is_tchar(unsigned char c) {
    return tchar_table[c];
}

bool is_token(std::string_view text) {
    if (text.empty()) return false;
    for (const char c : text) {
        if (!is_tchar(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

// field-value characters: VCHAR, obs-text, SP, HTAB. Never CR, LF, NUL, other controls or DEL.
bool valid_field_value(std::string_view value) {
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
    }
    return true;
}

std::string_view trim_ows(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// Splits the request-target into path and query. Origin-form ("/p?q"), absolute-form
// ("http://host/p?q", RFC 9112 3.2.2: servers must accept it) and "*" are accepted.
parse_error parse_target(std::string_view target, http_request& request) {
    for (const char ch : target) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7F) return {400, "invalid character in the request target"};
    }
    std::string_view path = target;
    if (target == "*") {
        request.path = target;
        return {};
    }
    if (target.front() != '/') {
        const size_t scheme_end = target.find("://");
        if (scheme_end == std::string_view::npos || scheme_end == 0) {
            return {400, "request target must be a path such as /v1/rooms/r"};
        }
        const size_t path_start = target.find_first_of("/?", scheme_end + 3);
        path =
            path_start == std::string_view::npos ? std::string_view{} : target.substr(path_start);
    }
    const size_t question = path.find('?');
    request.path = path.substr(0, question);
    if (request.path.empty()) request.path = "/";  // absolute-form without a path
    if (question != std::string_view::npos) request.query = path.substr(question + 1);
    return {};
}

// request-line = method SP request-target SP HTTP-version (single spaces, RFC 9112 3).
parse_error parse_request_line(std::string_view line, http_request& request) {
    const size_t first_space = line.find(' ');
    if (first_space == std::string_view::npos) return {400, "malformed request line"};
    const size_t second_space = line.find(' ', first_space + 1);
    if (second_space == std::string_view::npos) return {400, "malformed request line"};
    request.method = line.substr(0, first_space);
    request.target = line.substr(first_space + 1, second_space - first_space - 1);
    const std::string_view version = line.substr(second_space + 1);
    if (!is_token(request.method)) return {400, "malformed request method"};
    if (request.target.empty()) return {400, "empty request target"};
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
        return {400, "malformed HTTP version"};
    }
    if (version[5] != '1') return {505, "only HTTP/1.x is supported"};
    request.version_minor = version[7] - '0';
    return parse_target(request.target, request);
}

struct head_state {
    bool has_content_length = false;
    bool has_transfer_encoding = false;
    uint64_t content_length = 0;
};

parse_error set_once(std::string_view& field, std::string_view value, const char* duplicate) {
    if (field.data() != nullptr) return {400, duplicate};
    field = value;
    return {};
}

void set_first(http_request& request, std::string_view& field, std::string_view value,
               uint8_t repeat_bit) {
    if (field.data() == nullptr) {
        field = value;
    } else {
        request.repeated_list_headers |= repeat_bit;
    }
}

parse_error parse_content_length(std::string_view value, head_state& state) {
    if (value.empty() || value.size() > 18) return {400, "invalid Content-Length"};
    uint64_t length = 0;
    for (const char c : value) {
        if (c < '0' || c > '9') return {400, "invalid Content-Length"};
        length = length * 10 + static_cast<uint64_t>(c - '0');
    }
    if (state.has_content_length && state.content_length != length) {
        return {400, "conflicting Content-Length headers"};
    }
    state.has_content_length = true;
    state.content_length = length;
    return {};
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 5).
parse_error parse_field_line(std::string_view line, http_request& request, head_state& state) {
    if (line.front() == ' ' || line.front() == '\t') return {400, "obsolete header folding"};
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return {400, "header line without a colon"};
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return {400, "malformed header name"};
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!valid_field_value(value)) return {400, "invalid character in a header value"};
    // Dispatch on the name length first: most lines are headers we do not track.
    const auto is = [&](std::string_view known) { return equals_ignoring_case(name, known); };
    switch (name.size()) {
        case 4:
            if (is("host")) return set_once(request.host, value, "duplicate Host header");
            break;
        case 6:
            if (is("origin")) return set_once(request.origin, value, "duplicate Origin header");
            break;
        case 7:
            if (is("upgrade")) set_first(request, request.upgrade, value, repeated_upgrade);
            break;
        case 10:
            if (is("connection")) {
                set_first(request, request.connection, value, repeated_connection);
            }
            break;
        case 13:
            if (is("authorization")) {
                return set_once(request.authorization, value, "duplicate Authorization header");
            }
            break;
        case 14:
            if (is("content-length")) return parse_content_length(value, state);
            break;
        case 17:
            if (is("sec-websocket-key")) {
                return set_once(request.websocket_key, value, "duplicate Sec-WebSocket-Key header");
            }
            if (is("transfer-encoding")) state.has_transfer_encoding = true;
            break;
        case 21:
            if (is("sec-websocket-version"))
                set_first(request, request.websocket_version, value, 0);
            break;
        case 22:
            if (is("sec-websocket-protocol")) {
                set_first(request, request.websocket_protocol, value, repeated_protocol);
            }
            break;
        case 24:
            if (is("sec-websocket-extensions")) {
                set_first(request, request.websocket_extensions, value, repeated_extensions);
            }
            break;
    }
    return {};
}

parse_outcome make_error(int http_status, const char* message) {
    parse_outcome outcome;
    outcome.status = parse_status::error;
    outcome.http_status = http_status;
    outcome.message = message;
    return outcome;
}

// Checks that need the whole head.
parse_error finish_head(const http_request& request, const head_state& state) {
    if (request.version_minor >= 1 && request.host.data() == nullptr) {
        return {400, "HTTP/1.1 request without a Host header"};
    }
    if (state.has_transfer_encoding) return {501, "Transfer-Encoding is not supported"};
    if (state.content_length > 0) return {501, "request bodies are not supported"};
    return {};
}

// Calls visit(name, value) for each header line of a head that already parsed cleanly.
template <typename visitor>
void for_each_field(std::string_view head, visitor&& visit) {
    bool request_line_seen = false;
    while (!head.empty()) {
        const size_t newline = head.find('\n');
        if (newline == std::string_view::npos) return;
        const std::string_view line = head.substr(0, newline - 1);  // without CR LF
        head.remove_prefix(newline + 1);
        if (line.empty()) {
            if (request_line_seen) return;
            continue;
        }
        if (!request_line_seen) {
            request_line_seen = true;
            continue;
        }
        const size_t colon = line.find(':');
        if (visit(line.substr(0, colon), trim_ows(line.substr(colon + 1)))) return;
    }
}

}  // namespace

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

parse_outcome parse_http_request(std::string_view bytes, size_t header_bytes_max) {
    parse_outcome outcome;
    http_request& request = outcome.request;
    head_state state;
    const std::string_view window = bytes.substr(0, std::min(bytes.size(), header_bytes_max));
    size_t position = 0;
    bool request_line_seen = false;
    while (true) {
        const size_t newline = window.find('\n', position);
        if (newline == std::string_view::npos) {
            if (bytes.size() > header_bytes_max) {
                return make_error(431, "request head too large");
            }
            return outcome;  // incomplete
        }
        if (newline == 0 || window[newline - 1] != '\r') {
            return make_error(400, "line ends with a bare LF; use CRLF");
        }
        const std::string_view line = window.substr(position, newline - 1 - position);
        position = newline + 1;
        parse_error error;
        if (!request_line_seen) {
            if (line.empty()) continue;  // RFC 9112 2.2: ignore empty lines before the request
            request_line_seen = true;
            error = parse_request_line(line, request);
        } else if (line.empty()) {
            error = finish_head(request, state);
            if (error.http_status == 0) {
                outcome.status = parse_status::complete;
                request.header_bytes = position;
                request.head = bytes.substr(0, position);
                return outcome;
            }
        } else {
            error = parse_field_line(line, request, state);
        }
        if (error.http_status != 0) return make_error(error.http_status, error.message);
    }
}

std::optional<std::string_view> find_header(const http_request& request, std::string_view name) {
    std::optional<std::string_view> found;
    for_each_field(request.head, [&](std::string_view field, std::string_view value) {
        if (!equals_ignoring_case(field, name)) return false;
        found = value;
        return true;
    });
    return found;
}

bool header_has_token(const http_request& request, std::string_view name, std::string_view token,
                      bool case_sensitive) {
    const auto list_has = [&](std::string_view value) {
        while (true) {
            const size_t comma = value.find(',');
            const std::string_view element = trim_ows(value.substr(0, comma));
            if (case_sensitive ? element == token : equals_ignoring_case(element, token)) {
                return true;
            }
            if (comma == std::string_view::npos) return false;
            value.remove_prefix(comma + 1);
        }
    };
    // The tracked list headers seen once need no re-scan of the head.
    const struct {
        std::string_view name;
        const std::string_view* value;
        uint8_t repeat_bit;
    } tracked[] = {
        {"upgrade", &request.upgrade, repeated_upgrade},
        {"connection", &request.connection, repeated_connection},
        {"sec-websocket-protocol", &request.websocket_protocol, repeated_protocol},
        {"sec-websocket-extensions", &request.websocket_extensions, repeated_extensions}};
    for (const auto& header : tracked) {
        if ((request.repeated_list_headers & header.repeat_bit) != 0) continue;
        if (!equals_ignoring_case(name, header.name)) continue;
        return header.value->data() != nullptr && list_has(*header.value);
    }
    bool found = false;
    for_each_field(request.head, [&](std::string_view field, std::string_view value) {
        found = equals_ignoring_case(field, name) && list_has(value);
        return found;
    });
    return found;
}

bool wants_keep_alive(const http_request& request) {
    if (request.version_minor >= 1) return !header_has_token(request, "connection", "close");
    return header_has_token(request, "connection", "keep-alive");
}

}  // namespace chorus::ws
