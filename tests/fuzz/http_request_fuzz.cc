// libFuzzer target for the HTTP side of the handshake: parses the input as a request head, runs
// the upgrade checks and the query helpers on whatever parsed, and checks the parser's promises
// (views inside the input, header_bytes within the limit, prefixes never worse than the whole).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ws/handshake.h"
#include "ws/http_request.h"
#include "ws/query.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

bool inside(std::string_view view, std::string_view whole) {
    if (view.empty()) return true;
    return view.data() >= whole.data() && view.data() + view.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::ws;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const size_t limit = size > 0 && data[0] == 'G' ? 8192 : 256;
    const parse_outcome outcome = parse_http_request(bytes, limit);
    if (outcome.status == parse_status::error) {
        const int s = outcome.http_status;
        check(s == 400 || s == 431 || s == 501 || s == 505);
        std::string out;
        append_error_response(out, s, "bad_request", outcome.message);
        return 0;
    }
    if (outcome.status == parse_status::incomplete) {
        check(size <= limit);
        return 0;
    }
    const http_request& request = outcome.request;
    check(request.header_bytes <= limit && request.header_bytes <= size);
    for (std::string_view view :
         {request.method, request.target, request.query, request.host, request.upgrade,
          request.connection, request.websocket_key, request.origin, request.authorization}) {
        check(inside(view, bytes));
    }
    // Any prefix of a complete head is incomplete or the same error class, never "complete".
    const parse_outcome shorter =
        parse_http_request(bytes.substr(0, request.header_bytes - 1), limit);
    check(shorter.status != parse_status::complete);

    const upgrade_check upgrade = check_upgrade(request);
    std::string out;
    if (upgrade.http_status == 0) {
        append_upgrade_response(out, request.websocket_key, upgrade.offers_chorus_v1);
    } else {
        append_error_response(out, upgrade.http_status, "bad_request", upgrade.message);
    }
    (void)wants_keep_alive(request);
    (void)find_header(request, "x-forwarded-for");
    for (std::string_view key : {"user", "name", "token", "resume", "last_seq", ""}) {
        const auto value = query_param(request.query, key);
        if (!value) continue;
        check(inside(*value, bytes));
        std::string decoded;
        if (percent_decode(*value, decoded)) check(decoded.size() <= value->size());
        append_json_escaped(out, decoded);
    }
    return 0;
}
