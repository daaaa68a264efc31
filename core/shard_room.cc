// Rooms on their home shard: who may join (dev mode or JWT), replace and resume (PROTOCOL.md §6),
// the welcome, the seq'd events, and members that go away and come back or time out.
#include <openssl/rand.h>

#include <charconv>

#include "core/auth/jwt.h"
#include "core/auth/resume_token.h"
#include "core/base/clock.h"
#include "core/shard.h"
#include "ws/handshake.h"
#include "ws/query.h"
#include "ws/utf8.h"

namespace chorus::core {

bool user_id_valid(std::string_view id);

namespace {

bool display_name_valid(std::string_view name) {
    if (name.size() > display_name_bytes_max) return false;
    if (!ws::valid_utf8(name)) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f) return false;
        // C1 controls U+0080..U+009F are encoded C2 80..C2 9F
        if (c == 0xc2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) <= 0x9f)
            return false;
    }
    return true;
}

uint64_t random_u64() {
    uint64_t value = 0;
    while (value == 0) RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value));
    return value;
}

void append_member(std::string& out, const member& m) {
    out += "{\"member\":" + std::to_string(m.id) + ",\"user\":\"";
    ws::append_json_escaped(out, m.user);
    out += "\",\"name\":\"";
    ws::append_json_escaped(out, m.name);
    out += "\",\"muted\":";
    out += m.muted ? "true" : "false";
    out += ",\"speak\":";
    out += m.speak ? "true" : "false";
    out += '}';
}

}  // namespace

std::string shard::resume_token(const room& r, const member& m) const {
    return make_resume_token(_context.resume_key, r.id, m.user,
                             {m.id, m.resume_session, base::unix_seconds()});
}

// Decides who this is (dev mode query or JWT), then resumes, replaces or joins.
void shard::join_room(session& s, const ws::http_request& request, std::string_view room_id) {
    bool chorus_v1 = ws::check_upgrade(request).offers_chorus_v1;
    std::string user, name, text;
    bool speak = true, admin = false, has_name = false;
    std::string_view query = request.query;
    if (!_config.auth_secret.empty()) {
        auto raw = ws::query_param(query, "token");
        if (!raw || raw->empty() || !ws::percent_decode(*raw, text)) {
            refuse(s, 401, "unauthorized", "a token is required: ?token=<jwt>");
            return;
        }
        auto claims = verify_jwt(text, _config.auth_secret, base::unix_seconds());
        if (!claims.ok()) {
            refuse(s, 401, "unauthorized", token_error_text(claims.error()));
            return;
        }
        if (!token_allows_room(claims.value(), room_id)) {
            refuse(s, 403, "forbidden", "the token is not valid for this room");
            return;
        }
        user = claims.value().user;
        has_name = claims.value().has_name;
        name = claims.value().name;
        speak = claims.value().speak;
        admin = claims.value().admin;
    } else {
        auto raw = ws::query_param(query, "user");
        if (!raw || !ws::percent_decode(*raw, user) || !user_id_valid(user)) {
            refuse(s, 400, "bad_request", "user must be 1-64 characters of A-Z a-z 0-9 _ . -");
            return;
        }
        if (auto raw_name = ws::query_param(query, "name")) {
            has_name = true;
            if (!ws::percent_decode(*raw_name, name)) {
                refuse(s, 400, "bad_request", "malformed percent escape in name");
                return;
            }
        }
    }
    if (!has_name) name = user;
    if (!display_name_valid(name)) {
        refuse(s, 400, "bad_request", "name must be at most 64 bytes of UTF-8 without controls");
        return;
    }
    uint64_t last_seq = 0;
    bool has_last_seq = false;
    if (auto raw = ws::query_param(query, "last_seq")) {
        auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), last_seq);
        if (ec != std::errc() || end != raw->data() + raw->size() || raw->empty()) {
            refuse(s, 400, "bad_request", "last_seq must be a non-negative integer");
            return;
        }
        has_last_seq = true;
    }
    auto existing = _rooms.find(std::string(room_id));
    // A resume that does not happen (a token that does not verify, or whose grace is over) is an
    // ordinary join with "gap": true, never a refusal (PROTOCOL.md section 6, v1.0.1): a browser
    // cannot see why an upgrade failed, so a refusal would have it retry a stale token forever.
    bool resume_failed = false;
    std::optional<resume_claims> claims;
    if (auto raw = ws::query_param(query, "resume")) {
        std::string token;
        resume_failed = true;
        if (ws::percent_decode(*raw, token))
            claims = verify_resume_token(_context.resume_key, token, room_id, user);
    }
    if (claims) {
        if (clustered() && (link_up(room_id) || existing == _rooms.end())) {
            pending_op op;
            op.member = claims->member;
            op.resume_session = claims->session;
            op.user = std::move(user);
            op.name = std::move(name);
            op.speak = speak;
            op.admin = admin;
            op.chorus_v1 = chorus_v1;
            op.last_seq = last_seq;
            op.has_last_seq = has_last_seq;
            cluster_resume(s, room_id, std::move(op));
            return;
        }
        // Degraded cluster: a member held here resumes here, as on a single node.
        if (existing != _rooms.end()) {
            room& r = *existing->second;
            auto found = r.members.find(claims->member);
            if (found != r.members.end() && found->second->node == 0 && !found->second->leaving &&
                found->second->user == user && found->second->resume_session == claims->session) {
                member& m = *found->second;
                if (m.connection) close_with(*m.connection, 4009, "taken over by a resume");
                leave_away_list(m);
                m.name = name;
                m.resume_session = random_u64();  // older tokens stop working
                _metrics.resumes.add();
                upgrade(s, request, chorus_v1);
                admit(s, r, m, true, !has_last_seq, last_seq, has_last_seq, {}, chorus_v1);
                return;
            }
        }
        // The grace has run out: an ordinary join follows.
    }
    if (clustered()) {
        if (!link_up(room_id)) {
            refuse(s, 503, "overloaded", "the cluster engine is unreachable; try again shortly");
            return;
        }
        pending_op op;
        op.resume_failed = resume_failed;
        op.user = std::move(user);
        op.name = std::move(name);
        op.speak = speak;
        op.admin = admin;
        op.chorus_v1 = chorus_v1;
        cluster_join(s, open_room(room_id), std::move(op));
        return;
    }
    room& r = open_room(room_id);
    // A scan rather than a user index: it runs once per join, and an index would cost every
    // member of every room another map node.
    member* previous = nullptr;
    for (auto& [id, candidate] : r.members)
        if (candidate->user == user) previous = candidate.get();
    size_t occupied = r.members.size() - (previous ? 1 : 0);
    if (occupied >= _config.max_room_members) {
        refuse(s, 409, "room_full", "the room is full");
        maybe_end_room(r);
        return;
    }
    if (previous) {
        member& old = *previous;
        if (old.connection) close_with(*old.connection, 4009, "replaced by a new connection");
        member_gone(old, "replaced", false);  // the newcomer keeps the room alive
    }
    auto fresh = std::make_unique<member>();
    member& m = *fresh;
    m.id = r.ledger->allocate_member();
    m.user = std::move(user);
    m.name = std::move(name);
    m.speak = speak;
    m.admin = admin;
    m.resume_session = random_u64();
    m.home = &r;
    r.members[m.id] = std::move(fresh);
    _metrics.members.add();
    upgrade(s, request, chorus_v1);
    admit(s, r, m, false, resume_failed, 0, false, {}, chorus_v1);
}

room& shard::open_room(std::string_view room_id) {
    auto [it, created] = _rooms.try_emplace(std::string(room_id));
    if (created) {
        it->second = std::make_unique<room>();
        it->second->id = room_id;
        it->second->ledger = _context.ledgers->open(room_id, _pool);
        _metrics.rooms.add();
        if (clustered()) {
            auto* request = new cluster_request;
            request->op = cluster_op::follow;
            request->room = room_id;
            cluster_post(request);
        }
    }
    return *it->second;
}

void shard::maybe_end_room(room& r) {
    if (clustered()) {
        // Members of other nodes do not keep the room here; ours and our requests do.
        if (r.local_members != 0 || r.pending != 0 || !r.welcomes.empty()) return;
        auto* request = new cluster_request;
        request->op = cluster_op::unfollow;
        request->room = r.id;
        cluster_post(request);
        for (auto& [id, m] : r.members) {  // members of other nodes may wait out a grace
            leave_away_list(*m);
            if (m->held_whispers)
                for (shared_frame* frame : *m->held_whispers) _pool.release(frame);
            m->held_whispers.reset();
        }
    } else if (!r.members.empty()) {
        return;
    }
    _rooms.erase(r.id);  // its seq starts again at 1 next time
    uint64_t rooms = _metrics.rooms.get();
    _metrics.rooms.set(rooms ? rooms - 1 : 0);
}

void shard::attach(member& m, session& s, bool present) {
    m.connection = &s;
    s.self = &m;
    s.kind = session_kind::room;
    s.reader = ws::message_reader(ws::role::server, _config.max_frame_bytes);
    s.text_bucket = base::token_bucket(_config.text_rate, _config.text_burst, base::monotonic_ns());
    if (!present) return;
    m.present_index = static_cast<uint32_t>(m.home->present.size());
    m.home->present.push_back(&m);
}

void shard::detach_member(member& m) {
    if (!m.connection) return;
    m.connection->self = nullptr;
    m.connection = nullptr;
    if (m.present_index == UINT32_MAX) return;  // cluster: its welcome was not out yet
    std::vector<member*>& present = m.home->present;
    member* last = present.back();
    present[m.present_index] = last;
    last->present_index = m.present_index;
    present.pop_back();
    m.present_index = UINT32_MAX;
}

// The welcome, then (resumed) the missed events and held whispers, then (new) the joined event
// to everyone else.
void shard::admit(session& s, room& r, member& m, bool resumed, bool gap, uint64_t last_seq,
                  bool has_last_seq, std::string_view, bool) {
    attach(m, s);
    uint64_t seq = resumed ? r.ledger->current_seq() : r.ledger->next_seq();
    std::vector<shared_frame*> missed;
    if (resumed && has_last_seq) {
        gap = !r.ledger->replay(last_seq, [&](shared_frame* frame) {
            _pool.retain(frame);
            missed.push_back(frame);
        });
    }
    std::string json = "{\"type\":\"welcome\",\"room\":\"" + r.id +
                       "\",\"member\":" + std::to_string(m.id) + ",\"user\":\"";
    ws::append_json_escaped(json, m.user);
    json += "\",\"name\":\"";
    ws::append_json_escaped(json, m.name);
    json += "\",\"seq\":" + std::to_string(seq) + ",\"resumed\":" + (resumed ? "true" : "false") +
            ",\"gap\":" + (gap ? "true" : "false") + ",\"resume\":\"" + resume_token(r, m) +
            "\",\"members\":[";
    bool first = true;
    for (const auto& [id, other] : r.members) {
        if (other.get() == &m) continue;
        if (!first) json += ',';
        first = false;
        append_member(json, *other);
    }
    json += "]}";
    shared_frame* welcome = text_frame(json);
    queue_control(s, welcome);
    _pool.release(welcome);
    for (shared_frame* frame : missed) {
        queue_control(s, frame);
        _pool.release(frame);
    }
    if (m.held_whispers) {
        for (shared_frame* frame : *m.held_whispers) {
            queue_control(s, frame);
            _pool.release(frame);
        }
        m.held_whispers.reset();
    }
    if (resumed) return;
    json = "{\"type\":\"joined\",\"seq\":" + std::to_string(seq) + ",";
    std::string body;
    append_member(body, m);
    json += body.substr(1);
    shared_frame* joined = text_frame(json);
    r.ledger->record(seq, joined);
    std::vector<member*> targets = r.present;
    for (member* other : targets)
        if (other != &m && other->connection) queue_control(*other->connection, joined);
    _pool.release(joined);
}

// Sends a seq'd event (its JSON already carries the seq) to every present member but `except`,
// and keeps it in the room's history.
void shard::broadcast_event(room& r, std::string& json, member* except) {
    shared_frame* frame = text_frame(json);
    uint64_t seq = r.ledger->current_seq();
    r.ledger->record(seq, frame);
    std::vector<member*> targets = r.present;  // a slow consumer may be closed meanwhile
    for (member* other : targets)
        if (other != except && other->connection) queue_control(*other->connection, frame);
    _pool.release(frame);
}

// The member leaves the room for good: `left` to everyone, and the room ends if it was the last.
void shard::member_gone(member& m, std::string_view reason, bool end_room_if_empty) {
    if (clustered()) {
        detach_member(m);
        leave_away_list(m);
        cluster_leave(m, reason);  // `left` comes back through the room's channel
        return;
    }
    room& r = *m.home;
    detach_member(m);
    leave_away_list(m);
    if (m.held_whispers) {
        for (shared_frame* frame : *m.held_whispers) _pool.release(frame);
        m.held_whispers.reset();
    }
    uint64_t seq = r.ledger->next_seq();
    std::string json = "{\"type\":\"left\",\"seq\":" + std::to_string(seq) +
                       ",\"member\":" + std::to_string(m.id) + ",\"user\":\"";
    ws::append_json_escaped(json, m.user);
    json += "\",\"reason\":\"";
    json += reason;
    json += "\"}";
    uint32_t id = m.id;
    std::unique_ptr<member> gone = std::move(r.members.at(id));
    r.members.erase(id);
    uint64_t members = _metrics.members.get();
    _metrics.members.set(members ? members - 1 : 0);
    broadcast_event(r, json, nullptr);
    if (end_room_if_empty) maybe_end_room(r);
}

void shard::leave_away_list(member& m) {
    if (m.away_index == UINT32_MAX) return;
    member* last = _away.back();
    _away[m.away_index] = last;
    last->away_index = m.away_index;
    _away.pop_back();
    m.away_index = UINT32_MAX;
}

// The connection dropped without a close frame (or we closed it with 1001/1011/1013): the member
// stays, away, for the resume grace.
void shard::member_away(member& m) {
    if (!m.connection) return;
    detach_member(m);
    m.away_deadline_ms = base::monotonic_ms() + _config.resume_grace_ms;
    m.away_index = static_cast<uint32_t>(_away.size());
    _away.push_back(&m);
}

void shard::expire_away(uint64_t now_ms) {
    for (size_t i = 0; i < _away.size();) {
        member* m = _away[i];
        if (m->away_deadline_ms > now_ms) {
            ++i;
            continue;
        }
        member_gone(*m, "timeout");  // swaps another member into slot i
    }
}

}  // namespace chorus::core
