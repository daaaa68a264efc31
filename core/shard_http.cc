// The HTTP side of a shard: collecting the request head, routing it, refusals with a JSON body
// (PROTOCOL.md §1), the plain endpoints (§8: /, /healthz, /metrics, /v1/rooms) and the upgrade.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <xxhash.h>

#include <fstream>
#include <sstream>

#include "core/auth/jwt.h"
#include "core/base/clock.h"
#include "core/shard.h"
#include "core/static_path.h"
#include "core/web_assets.h"
#include "ws/handshake.h"
#include "ws/query.h"

namespace chorus::core {

namespace {

bool valid_id(std::string_view id, size_t max) {
    if (id.empty() || id.size() > max) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

const char* code_for_status(int status) {
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

}  // namespace

bool room_id_valid(std::string_view id) {
    return valid_id(id, room_id_bytes_max);
}
bool user_id_valid(std::string_view id) {
    return valid_id(id, user_id_bytes_max);
}

void shard::on_http_data(session& s, std::span<const uint8_t> data) {
    if (!s.http_in) s.http_in = std::make_unique<std::string>();
    // Never hold more than the head limit (plus one byte, so the parser can say 431).
    size_t room = http_head_bytes_max + 1 > s.http_in->size()
                      ? http_head_bytes_max + 1 - s.http_in->size()
                      : 0;
    s.http_in->append(reinterpret_cast<const char*>(data.data()), std::min(room, data.size()));
    ws::parse_outcome outcome = ws::parse_http_request(*s.http_in, http_head_bytes_max);
    if (outcome.status == ws::parse_status::incomplete) return;
    if (outcome.status == ws::parse_status::error) {
        refuse(s, outcome.http_status, code_for_status(outcome.http_status), outcome.message);
        return;
    }
    handle_request(s, outcome.request);
}

void shard::refuse(session& s, int status, std::string_view code, std::string_view message) {
    _metrics.count_refusal(status);
    _scratch.clear();
    ws::append_error_response(_scratch, status, code, message);
    queue_bytes(s, _scratch);
    finish_http(s);
}

void shard::respond(session& s, int status, std::string_view type, std::string_view body,
                    std::string_view extra_headers) {
    _scratch.clear();
    ws::append_http_response(_scratch, status, type, body, false, extra_headers);
    queue_bytes(s, _scratch);
    finish_http(s);
}

// Origin and RFC 6455 headers of a WebSocket request; refuses (and returns false) otherwise.
bool shard::upgrade_allowed(session& s, const ws::http_request& request, bool* chorus_v1) {
    if (!origin_allowed(request)) {
        refuse(s, 403, "forbidden", "origin not allowed");
        return false;
    }
    ws::upgrade_check check = ws::check_upgrade(request);
    if (check.http_status != 0) {
        refuse(s, check.http_status, code_for_status(check.http_status), check.message);
        return false;
    }
    *chorus_v1 = check.offers_chorus_v1;
    return true;
}

bool shard::origin_allowed(const ws::http_request& request) const {
    if (_config.allowed_origins.empty()) return true;
    for (const std::string& origin : _config.allowed_origins)
        if (request.origin == origin) return true;
    return false;
}

void shard::handle_request(session& s, const ws::http_request& request) {
    if (s.close_queued) return;  // already answered; ignore pipelined requests
    if (request.method != "GET" && request.method != "HEAD") {
        refuse(s, 405, "method_not_allowed", "only GET is served here");
        return;
    }
    std::string_view path = request.path;
    constexpr std::string_view rooms_prefix = "/v1/rooms/";
    bool draining = _draining || _context.draining.load(std::memory_order_relaxed);
    if (draining && (path.starts_with(rooms_prefix) || path == "/v1/echo")) {
        refuse(s, 503, "overloaded", "the server is draining; reconnect to another node");
        return;
    }
    if (path.starts_with(rooms_prefix)) {
        std::string_view room_id = path.substr(rooms_prefix.size());
        if (!room_id_valid(room_id)) {
            refuse(s, 400, "bad_request", "room must be 1-64 characters of A-Z a-z 0-9 _ . -");
            return;
        }
        bool chorus_v1 = false;
        if (!upgrade_allowed(s, request, &chorus_v1)) return;
        uint32_t home = static_cast<uint32_t>(XXH3_64bits(room_id.data(), room_id.size()) %
                                              _context.shards.size());
        if (home != _id) {
            s.handoff_to = home;
            s.phase = session_phase::closing;  // no timers, no data until it moves
            _loop->detach(s.conn);
            return;
        }
        join_room(s, request, room_id);
        return;
    }
    if (path == "/v1/echo" && _config.echo_endpoint) {
        bool chorus_v1 = false;
        if (!upgrade_allowed(s, request, &chorus_v1)) return;
        s.kind = session_kind::echo;
        s.reader = ws::message_reader(ws::role::server, echo_message_bytes_max);
        upgrade(s, request, chorus_v1);
        return;
    }
    if (path == "/v1/rooms") {
        serve_rooms_listing(s, request);
    } else if (path == "/healthz") {
        bool degraded = _context.hub && !cluster_ready(*_context.hub, _context.shards.size());
        respond(s, draining ? 503 : 200, "application/json",
                draining   ? R"({"status":"draining"})"
                : degraded ? R"({"status":"degraded"})"
                           : R"({"status":"ok"})");
    } else if (path == "/metrics") {
        std::vector<const shard_metrics*> all;
        for (shard* other : _context.shards) all.push_back(&other->metrics());
        std::string body = render_prometheus(all, _context.draining.load());
        if (_context.hub) append_cluster_metrics(body, *_context.hub);
        respond(s, 200, "text/plain; version=0.0.4; charset=utf-8", body);
    } else {
        serve_static(s, request);
    }
}

// Switches the connection to WebSocket: queues the 101 response and feeds any bytes that came
// right behind the request head to the frame reader.
void shard::upgrade(session& s, const ws::http_request& request, bool chorus_v1) {
    std::string leftover = s.http_in->substr(request.header_bytes);
    _scratch.clear();
    ws::append_upgrade_response(_scratch, request.websocket_key, chorus_v1);
    queue_bytes(s, _scratch);
    s.http_in.reset();
    s.phase = session_phase::websocket;
    s.last_activity_ms = s.last_ping_ms = now_ms();
    _metrics.websocket_sessions.add();
    if (!leftover.empty() && s.kind == session_kind::echo)
        on_ws_data(s, {reinterpret_cast<uint8_t*>(leftover.data()), leftover.size()});
}

void shard::serve_static(session& s, const ws::http_request& request) {
    std::string path;
    static_path_status status = resolve_static_path(request.path, &path);
    if (status == static_path_status::malformed) {
        refuse(s, 400, "bad_request", "malformed path");
        return;
    }
    if (status == static_path_status::forbidden) {
        refuse(s, 404, "not_found", "no such file");
        return;
    }
    std::string_view type = content_type_for(path);
    std::string headers = "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n";
    if (!_config.web_dir.empty()) {
        std::ifstream file(_config.web_dir + path, std::ios::binary);
        std::stringstream content;
        if (file && (content << file.rdbuf())) {
            std::string body = content.str();
            respond(s, 200, type, request.method == "HEAD" ? std::string_view{} : body, headers);
            return;
        }
    } else {
        for (const web_asset& asset : web_assets()) {
            if (asset.path == path) {
                respond(s, 200, asset.content_type,
                        request.method == "HEAD" ? std::string_view{} : asset.bytes, headers);
                return;
            }
        }
    }
    refuse(s, 404, "not_found", "no such path; the voice rooms are at /v1/rooms/{room}");
}

void shard::serve_rooms_listing(session& s, const ws::http_request& request) {
    if (!_config.auth_secret.empty()) {
        std::string token;
        if (request.authorization.starts_with("Bearer ")) {
            token = request.authorization.substr(7);
        } else if (auto raw = ws::query_param(request.query, "token")) {
            ws::percent_decode(*raw, token);
        }
        if (token.empty()) {
            refuse(s, 401, "unauthorized", "an admin token is required");
            return;
        }
        auto claims = verify_jwt(token, _config.auth_secret, base::unix_seconds());
        if (!claims.ok()) {
            refuse(s, 401, "unauthorized", token_error_text(claims.error()));
            return;
        }
        if (!claims.value().admin) {
            refuse(s, 403, "forbidden", "the token is not an admin token");
            return;
        }
    }
    uint32_t query = _next_query++;
    rooms_query& pending = _rooms_queries[query];
    pending.conn = s.conn;
    pending.replies_missing = static_cast<uint32_t>(_context.shards.size() - 1);
    pending.body = rooms_json();
    for (uint32_t to = 0; to < _context.shards.size(); ++to) {
        if (to == _id) continue;
        post(to, {cross_kind::rooms_query, _id, -1, query, 0, nullptr});
    }
    if (pending.replies_missing == 0)
        collect_rooms_reply({cross_kind::rooms_reply, _id, -1, query, 0, nullptr});
}

std::string shard::rooms_json() const {
    std::string out;
    for (const auto& [id, r] : _rooms) {
        if (!out.empty()) out += ',';
        out += "{\"room\":\"";
        out += id;  // room ids are [A-Za-z0-9_.-]: nothing to escape
        out += "\",\"members\":" + std::to_string(r->members.size()) + "}";
    }
    return out;
}

void shard::answer_rooms_query(const cross_record& record) {
    post(record.from,
         {cross_kind::rooms_reply, _id, -1, record.tag, 0, new std::string(rooms_json())});
}

void shard::collect_rooms_reply(const cross_record& record) {
    std::unique_ptr<std::string> part(static_cast<std::string*>(record.data));
    auto it = _rooms_queries.find(record.tag);
    if (it == _rooms_queries.end()) return;
    rooms_query& pending = it->second;
    if (part && !part->empty()) {
        if (!pending.body.empty()) pending.body += ',';
        pending.body += *part;
    }
    if (record.from != _id && pending.replies_missing > 0) --pending.replies_missing;
    // (a query that could not be posted arrives here as an empty reply "from" its target)
    if (pending.replies_missing > 0) return;
    session* s = find(pending.conn);
    if (s && s->phase == session_phase::http) {
        respond(*s, 200, "application/json", "{\"rooms\":[" + pending.body + "]}");
    }
    _rooms_queries.erase(it);
}

}  // namespace chorus::core
