// Where an HTTP request goes (PROTOCOL.md §1, §8), decided from its head alone: a room, the echo
// endpoint, /v1/rooms, /healthz, /metrics, a static file, or a refusal. Pure functions over the
// parsed head, no session and no I/O (after uWebSockets' HttpRouter.h), so every route and every
// refusal is unit-tested without sockets. The shard acts on the answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ws/http_request.h"

namespace chorus::core {

// `room_check`: a room URL asked without a valid upgrade (a plain GET, say, from a page that
// wants to know why its upgrade was refused). The shard validates the join as the upgrade would
// and answers its refusal; only a join that would be accepted gets the route's 426.
enum class route_kind : uint8_t {
    refuse,
    room,
    room_check,
    echo,
    rooms_listing,
    healthz,
    metrics,
    file
};

struct http_route {
    route_kind kind = route_kind::refuse;
    int status = 0;            // refuse, room_check (426)
    std::string_view code;     // refuse, room_check: the JSON error code
    std::string_view message;  // refuse, room_check: static storage
    std::string_view room;     // room, room_check: a valid room id (a view into the request)
    bool chorus_v1 = false;    // room, echo: the client offered the chorus.v1 subprotocol
};

struct router_options {
    bool draining = false;
    bool echo = false;                                          // --echo-endpoint
    const std::vector<std::string>* allowed_origins = nullptr;  // null or empty: any origin
};

http_route route_request(const ws::http_request& request, const router_options& options);

// The JSON error code that goes with an HTTP status (400 and anything unknown: bad_request).
std::string_view code_for_status(int status);

// A plain response: a file of the page, or a refusal.
struct http_reply {
    int status = 200;
    std::string_view code;     // status != 200: the JSON error code
    std::string_view message;  // status != 200
    std::string_view content_type;
    std::string body;  // status 200
};
// Serves `request.path` from `web_dir` when it is set, else from the assets in the binary.
http_reply serve_file(const ws::http_request& request, const std::string& web_dir);

// /v1/rooms with --auth-secret: an admin token as a Bearer header or ?token=. Returns 0 when
// allowed, else the refusal's status and `*message`.
int check_admin(const ws::http_request& request, const std::string& auth_secret, int64_t now_unix,
                std::string_view* message);

}  // namespace chorus::core
