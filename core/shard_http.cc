// The HTTP side of a shard: collecting the request head, acting on its route (core/
// http_router.h), refusals with a JSON body (PROTOCOL.md §1), the plain endpoints (§8), the
// hand-off of a room request to the room's home shard, and the upgrade.
#include <xxhash.h>

#include "core/base/clock.h"
#include "core/http_router.h"
#include "core/join_request.h"
#include "core/shard.h"
#include "ws/handshake.h"

namespace chorus::core {

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
    _writer.queue_bytes(s, _scratch);
    _writer.finish_http(s);
}

void shard::respond(session& s, int status, std::string_view type, std::string_view body,
                    std::string_view extra_headers) {
    _scratch.clear();
    ws::append_http_response(_scratch, status, type, body, false, extra_headers);
    _writer.queue_bytes(s, _scratch);
    _writer.finish_http(s);
}

void shard::handle_request(session& s, const ws::http_request& request) {
    if (s.close_queued) return;  // already answered; ignore pipelined requests
    router_options options;
    options.draining = _draining || _context.draining.load(std::memory_order_relaxed);
    options.echo = _config.echo_endpoint;
    options.allowed_origins = &_config.allowed_origins;
    http_route route = route_request(request, options);
    switch (route.kind) {
        case route_kind::refuse:
            return refuse(s, route.status, route.code, route.message);
        case route_kind::room:
        case route_kind::room_check: {
            // A room_check is pure validation, so any shard answers it: the refusal the upgrade
            // would get, else the 426.
            bool check = route.kind == route_kind::room_check;
            uint32_t home = static_cast<uint32_t>(
                XXH3_64bits(route.room.data(), route.room.size()) % _context.shards.size());
            if (!check && home != _id) {
                s.handoff_to = static_cast<uint16_t>(home);  // home < shards_max
                s.phase = session_phase::closing;            // no timers, no data until it moves
                _loop->detach(s.conn);
                return;
            }
            join_request join;
            join_refusal refusal = parse_join_request(
                request, route.room,
                {_config.auth_secret, _context.resume_key, base::unix_seconds()}, &join);
            if (refusal.status) return refuse(s, refusal.status, refusal.code, refusal.message);
            if (check) return refuse(s, route.status, route.code, route.message);
            return _sync->join(s, std::move(join));
        }
        case route_kind::echo:
            s.kind = session_kind::echo;
            s.reader = ws::message_reader(ws::role::server, echo_message_bytes_max);
            return upgrade(s, route.chorus_v1);
        case route_kind::rooms_listing:
            return serve_rooms_listing(s, request);
        case route_kind::healthz:
            return respond(s, options.draining ? 503 : 200, "application/json",
                           options.draining             ? R"({"status":"draining"})"
                           : !_context.syncs->healthy() ? R"({"status":"degraded"})"
                                                        : R"({"status":"ok"})");
        case route_kind::metrics: {
            std::vector<const shard_metrics*> all;
            for (shard* other : _context.shards) all.push_back(&other->metrics());
            std::string body = render_prometheus(all, _context.draining.load());
            _context.syncs->append_metrics(body);
            return respond(s, 200, "text/plain; version=0.0.4; charset=utf-8", body);
        }
        case route_kind::file: {
            http_reply reply = serve_file(request, _config.web_dir);
            if (reply.status != 200) return refuse(s, reply.status, reply.code, reply.message);
            return respond(s, 200, reply.content_type, reply.body,
                           "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n");
        }
    }
}

// Switches the connection to WebSocket: queues the 101 response and feeds any bytes that came
// right behind the request head to the frame reader.
void shard::upgrade(session& s, bool chorus_v1) {
    ws::parse_outcome head = ws::parse_http_request(*s.http_in, http_head_bytes_max);
    std::string leftover = s.http_in->substr(head.request.header_bytes);
    _scratch.clear();
    ws::append_upgrade_response(_scratch, head.request.websocket_key, chorus_v1);
    _writer.queue_bytes(s, _scratch);
    s.http_in.reset();
    s.phase = session_phase::websocket;
    s.last_activity_ms = s.last_ping_ms = _writer.now_ms();
    _metrics.websocket_sessions.add();
    if (!leftover.empty() && s.kind == session_kind::echo)
        on_ws_data(s, {reinterpret_cast<uint8_t*>(leftover.data()), leftover.size()});
}

void shard::serve_rooms_listing(session& s, const ws::http_request& request) {
    std::string_view message;
    if (int status = check_admin(request, _config.auth_secret, base::unix_seconds(), &message))
        return refuse(s, status, code_for_status(status), message);
    uint32_t query = _next_query++;
    rooms_query& pending = _rooms_queries[query];
    pending.conn = s.conn;
    pending.replies_missing = static_cast<uint32_t>(_context.shards.size() - 1);
    pending.body = _rooms.listing_json();
    for (uint32_t to = 0; to < _context.shards.size(); ++to) {
        if (to == _id) continue;
        post(to, {cross_kind::rooms_query, _id, -1, query, 0, nullptr});
    }
    if (pending.replies_missing == 0)
        collect_rooms_reply({cross_kind::rooms_reply, _id, -1, query, 0, nullptr});
}

void shard::answer_rooms_query(const cross_record& record) {
    post(record.from,
         {cross_kind::rooms_reply, _id, -1, record.tag, 0, new std::string(_rooms.listing_json())});
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
