// The HTTP router, the static files of the page and the admin check of /v1/rooms.
#include "core/http_router.h"

#include <fstream>
#include <sstream>

#include "core/auth/jwt.h"
#include "core/join_request.h"
#include "core/static_path.h"
#include "core/web_assets.h"
#include "ws/handshake.h"
#include "ws/query.h"

namespace chorus::core {

namespace {

http_route refusal(int status, std::string_view code, std::string_view message) {
    http_route route;
    route.status = status;
    route.code = code;
    route.message = message;
    return route;
}

// Origin and RFC 6455 headers of a WebSocket request; kind stays `refuse` when they fail.
http_route upgrade_route(const ws::http_request& request, const router_options& options,
                         route_kind kind) {
    if (options.allowed_origins && !options.allowed_origins->empty()) {
        bool allowed = false;
        for (const std::string& origin : *options.allowed_origins)
            if (request.origin == origin) allowed = true;
        if (!allowed) return refusal(403, "forbidden", "origin not allowed");
    }
    ws::upgrade_check check = ws::check_upgrade(request);
    if (check.http_status != 0)
        return refusal(check.http_status, code_for_status(check.http_status), check.message);
    http_route route;
    route.kind = kind;
    route.chorus_v1 = check.offers_chorus_v1;
    return route;
}

}  // namespace

std::string_view code_for_status(int status) {
    switch (status) {
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 409:
            return "room_full";
        case 426:
            return "upgrade_required";
        case 431:
            return "headers_too_large";
        case 501:
            return "not_implemented";
        case 503:
            return "overloaded";
        case 505:
            return "http_version_not_supported";
        default:
            return "bad_request";
    }
}

http_route route_request(const ws::http_request& request, const router_options& options) {
    if (request.method != "GET" && request.method != "HEAD")
        return refusal(405, "method_not_allowed", "only GET is served here");
    std::string_view path = request.path;
    constexpr std::string_view rooms_prefix = "/v1/rooms/";
    if (options.draining && (path.starts_with(rooms_prefix) || path == "/v1/echo"))
        return refusal(503, "overloaded", "the server is draining; reconnect to another node");
    if (path.starts_with(rooms_prefix)) {
        std::string_view room_id = path.substr(rooms_prefix.size());
        if (!room_id_valid(room_id))
            return refusal(400, "bad_request", "room must be 1-64 characters of A-Z a-z 0-9 _ . -");
        http_route route = upgrade_route(request, options, route_kind::room);
        if (route.kind == route_kind::refuse && route.status == 426)
            route.kind = route_kind::room_check;
        route.room = room_id;
        return route;
    }
    if (path == "/v1/echo" && options.echo)
        return upgrade_route(request, options, route_kind::echo);
    http_route route;
    if (path == "/v1/rooms") {
        route.kind = route_kind::rooms_listing;
    } else if (path == "/healthz") {
        route.kind = route_kind::healthz;
    } else if (path == "/metrics") {
        route.kind = route_kind::metrics;
    } else {
        route.kind = route_kind::file;
    }
    return route;
}

http_reply serve_file(const ws::http_request& request, const std::string& web_dir) {
    http_reply reply;
    std::string path;
    static_path_status status = resolve_static_path(request.path, &path);
    if (status != static_path_status::ok) {
        bool malformed = status == static_path_status::malformed;
        reply.status = malformed ? 400 : 404;
        reply.code = malformed ? "bad_request" : "not_found";
        reply.message = malformed ? "malformed path" : "no such file";
        return reply;
    }
    bool head = request.method == "HEAD";
    if (!web_dir.empty()) {
        std::ifstream file(web_dir + path, std::ios::binary);
        std::stringstream content;
        if (file && (content << file.rdbuf())) {
            reply.content_type = content_type_for(path);
            if (!head) reply.body = content.str();
            return reply;
        }
    } else {
        for (const web_asset& asset : web_assets()) {
            if (asset.path != path) continue;
            reply.content_type = asset.content_type;
            if (!head) reply.body = asset.bytes;
            return reply;
        }
    }
    reply.status = 404;
    reply.code = "not_found";
    reply.message = "no such path; the voice rooms are at /v1/rooms/{room}";
    return reply;
}

int check_admin(const ws::http_request& request, const std::string& auth_secret, int64_t now_unix,
                std::string_view* message) {
    if (auth_secret.empty()) return 0;
    std::string token;
    if (request.authorization.starts_with("Bearer ")) {
        token = request.authorization.substr(7);
    } else if (auto raw = ws::query_param(request.query, "token")) {
        ws::percent_decode(*raw, token);
    }
    if (token.empty()) {
        *message = "an admin token is required";
        return 401;
    }
    auto claims = verify_jwt(token, auth_secret, now_unix);
    if (!claims.ok()) {
        *message = token_error_text(claims.error());
        return 401;
    }
    if (!claims.value().admin) {
        *message = "the token is not an admin token";
        return 403;
    }
    return 0;
}

}  // namespace chorus::core
