// A shard's side of the cluster (docs/CLUSTER.md): joins, resumes, leaves and room events go to
// Redis as scripts through the cluster engine, and a request waits (parked, still in HTTP) for the
// answer. Nothing here blocks: replies come back through the shard's ring like any other record.
// When Redis is unreachable the shard keeps its own members going: audio and events among the
// members on this node, with seqs that continue from the last one seen.
#include <openssl/rand.h>

#include <charconv>

#include "core/base/clock.h"
#include "core/shard.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace chorus::core {

namespace {

std::string escaped(std::string_view text) {
    std::string out;
    ws::append_json_escaped(out, text);
    return out;
}

uint64_t random_nonce() {
    uint64_t value = 0;
    while (value == 0) RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value));
    return value;
}

uint64_t as_number(const reply_value& v) {
    if (v.type == reply_value::kind::integer) return v.integer > 0 ? uint64_t(v.integer) : 0;
    uint64_t out = 0;
    if (v.type == reply_value::kind::string)
        std::from_chars(v.text.data(), v.text.data() + v.text.size(), out);
    return out;
}

constexpr std::string_view unreachable = "the cluster engine is unreachable; try again shortly";

}  // namespace

bool shard::link_up(std::string_view room) const {
    uint32_t server = _context.cluster->server_for(room);
    return server < _link_up.size() && _link_up[server];
}

void shard::cluster_post(cluster_request* request) {
    request->shard = _id;
    if (!_cluster_backlog.empty() || !_context.hub->to_engine[_id]->try_push({request})) {
        if (request->op == cluster_op::publish || request->op == cluster_op::node_publish) {
            _context.hub->counters.dropped.fetch_add(1, std::memory_order_relaxed);
            delete request;
            return;
        }
        _cluster_backlog.push_back(request);
    }
    _cluster_wake = true;
}

// End of a pass: what the ring did not take goes now, and the engine is woken once.
void shard::cluster_flush() {
    while (!_cluster_backlog.empty() &&
           _context.hub->to_engine[_id]->try_push({_cluster_backlog.front()}))
        _cluster_backlog.pop_front();
    if (_cluster_wake) {
        _cluster_wake = false;
        _context.cluster->wake();
    }
}

uint64_t shard::run_room_script(room& r, room_script script, std::vector<std::string> args,
                                pending_op op) {
    auto* request = new cluster_request;
    request->op = cluster_op::script;
    request->script = script;
    request->room = r.id;
    request->args = std::move(args);
    uint64_t tag = _next_tag++;
    request->tag = tag;
    op.room = r.id;
    _pending.emplace(tag, std::move(op));
    ++r.pending;
    cluster_post(request);
    return tag;
}

std::string shard::record_of(const member& m) const {
    return make_member_record(_nodes[0].instance, m.resume_session, m.muted, m.admin_muted,
                              escaped(m.user), escaped(m.name), m.speak);
}

// A join for the room at Redis: a member id unique in the cluster, the `joined` event's seq, and
// the member list as of that seq. A member of the same user elsewhere is replaced there.
void shard::cluster_join(session& s, room& r, pending_op op) {
    uint32_t server = _context.cluster->server_for(r.id);
    if (!link_up(r.id)) {
        refuse(s, 503, "overloaded", unreachable);
        maybe_end_room(r);
        return;
    }
    op.kind = op_kind::join;
    op.conn = s.conn;
    op.session = random_nonce();
    std::vector<std::string> args = {_nodes[0].instance,
                                     std::to_string(op.session),
                                     escaped(op.user),
                                     escaped(op.name),
                                     op.speak ? "1" : "0",
                                     std::to_string(_config.max_room_members),
                                     std::to_string(_epochs[server])};
    s.parked = true;
    run_room_script(r, room_script::join, std::move(args), std::move(op));
}

void shard::cluster_resume(session& s, std::string_view room_id, pending_op op) {
    room& r = open_room(room_id);
    if (!link_up(r.id)) {
        refuse(s, 503, "overloaded", unreachable);
        maybe_end_room(r);
        return;
    }
    op.kind = op_kind::resume;
    op.conn = s.conn;
    op.session = random_nonce();
    std::vector<std::string> args = {
        _nodes[0].instance,         std::to_string(op.member),
        escaped(op.user),           std::to_string(op.resume_session),
        std::to_string(op.session), op.has_last_seq ? std::to_string(op.last_seq) : ""};
    s.parked = true;
    run_room_script(r, room_script::resume, std::move(args), std::move(op));
}

// The member leaves the room for good. Its `left` comes back through the room's channel; a
// member on a node that died is only let go if it is still on that node (it may have resumed).
void shard::cluster_leave(member& m, std::string_view reason) {
    if (m.leaving) return;
    m.leaving = true;
    room& r = *m.home;
    pending_op op;
    op.kind = op_kind::leave;
    op.member = m.id;
    op.reason = reason;
    std::string expect = reason == "kicked" ? "" : _nodes[m.node].instance;
    // A member of another node times out only if that node is still silent in Redis.
    std::string silent =
        m.node != 0 && reason == "timeout" ? std::to_string(_config.node_timeout_ms) : "";
    run_room_script(r, room_script::leave,
                    {std::to_string(m.id), std::string(reason), expect, silent}, std::move(op));
}

void shard::cluster_room_event(room& r, char kind, uint32_t member, std::string a1, std::string a2,
                               std::string before, std::string after, uint32_t mute_target) {
    pending_op op;
    op.kind = op_kind::event;
    op.event_kind = kind;
    op.member = member;
    op.muted = a1 == "1";
    op.before = before;
    op.after = after;
    if (kind == 'm') std::from_chars(a2.data(), a2.data() + a2.size(), op.by);
    if (!link_up(r.id)) {
        cluster_event failed;  // ok == false: delivered here only
        on_event_reply(op, r, failed);
        return;
    }
    std::string flag = !op.muted ? "0" : op.by != member ? "2" : "1";  // 2: an admin's mute
    std::vector<std::string> args = {std::string(1, kind),
                                     std::to_string(member),
                                     std::move(a1),
                                     std::move(a2),
                                     std::move(before),
                                     std::move(after),
                                     mute_target ? std::to_string(mute_target) : "",
                                     mute_target ? flag : ""};
    run_room_script(r, room_script::event, std::move(args), std::move(op));
}

// Room audio crosses to each other node once: one publish per frame, only while the room has
// members elsewhere.
void shard::cluster_publish_audio(room& r, const shared_frame* frame) {
    if (r.remote_members == 0 || !link_up(r.id)) return;
    auto* request = new cluster_request;
    request->op = cluster_op::publish;
    request->room = r.id;
    request->payload.reserve(frame->size + _nodes[0].instance.size() + 3);
    request->payload = "A|";
    request->payload += _nodes[0].instance;
    request->payload += '|';
    request->payload.append(reinterpret_cast<const char*>(frame->data()), frame->size);
    cluster_post(request);
}

// A whisper (text W, audio V) for a member on another node goes to that node only.
bool shard::cluster_whisper(room& r, member& target, const shared_frame* frame, char type) {
    if (target.node == 0) return false;
    if (!link_up(r.id)) return true;  // dropped: nobody can carry it now
    auto* request = new cluster_request;
    request->op = cluster_op::node_publish;
    request->room = r.id;
    request->target = _nodes[target.node].instance;
    request->payload = std::string(1, type) + "|" + r.id + "|" + std::to_string(target.id) + "|";
    request->payload.append(reinterpret_cast<const char*>(frame->data()), frame->size);
    cluster_post(request);
    return true;
}

void shard::drain_cluster_ring() {
    _context.hub->to_shard[_id]->consume(
        [&](const cluster_record& record) {
            std::unique_ptr<cluster_event> event(static_cast<cluster_event*>(record.item));
            on_cluster_event(*event);
        },
        ring_records_per_pass_max);
}

void shard::on_cluster_event(cluster_event& e) {
    switch (e.kind) {
        case cluster_event_kind::reply: {
            auto found = _pending.find(e.tag);
            if (found == _pending.end()) return;
            pending_op op = std::move(found->second);
            _pending.erase(found);
            auto r = _rooms.find(op.room);
            if (r == _rooms.end()) return;
            room& rm = *r->second;
            --rm.pending;
            switch (op.kind) {
                case op_kind::join:
                    on_join_reply(op, rm, e);
                    break;
                case op_kind::resume:
                    on_resume_reply(op, rm, e);
                    break;
                case op_kind::leave:
                    on_leave_reply(op, rm, e);
                    break;
                case op_kind::event:
                    on_event_reply(op, rm, e);
                    break;
                case op_kind::restore:
                    on_restore_reply(rm, e);
                    break;
            }
            if (auto again = _rooms.find(op.room); again != _rooms.end())
                maybe_end_room(*again->second);
            return;
        }
        case cluster_event_kind::room_message: {
            auto r = _rooms.find(e.room);
            if (r != _rooms.end()) on_room_message(*r->second, e.payload);
            return;
        }
        case cluster_event_kind::node_message:
            on_node_message(e);
            return;
        case cluster_event_kind::link:
            on_link(e);
            return;
        case cluster_event_kind::nodes:
            on_nodes(e);
            return;
    }
}

void shard::on_join_reply(pending_op& op, room& r, cluster_event& e) {
    session* s = find(op.conn);
    if (s && !s->parked) s = nullptr;
    const reply_value& v = e.value;
    bool full = v.type == reply_value::kind::array && !v.items.empty() &&
                v.items[0].type == reply_value::kind::string && v.items[0].text == "full";
    if (!e.ok || full || v.type != reply_value::kind::array || v.items.size() != 3) {
        // The script may have run with its answer lost: the room gets a restore once Redis is
        // back, which lets go of a member registered for nobody.
        if (!e.ok) _orphans.insert(r.id);
        if (s) {
            s->parked = false;
            if (full) {
                refuse(*s, 409, "room_full", "the room is full");
            } else {
                refuse(*s, 503, "overloaded", unreachable);
            }
        }
        return;
    }
    uint32_t id = static_cast<uint32_t>(as_number(v.items[0]));
    uint64_t seq = as_number(v.items[1]);
    if (!r.synced) load_members(r, v.items[2], id);
    if (!r.synced) {
        r.synced = true;
        r.ledger->advance_to(seq);
    }
    auto fresh = std::make_unique<member>();
    fresh->id = id;
    fresh->user = std::move(op.user);
    fresh->name = std::move(op.name);
    fresh->speak = op.speak;
    fresh->admin = op.admin;
    fresh->resume_session = op.session;
    member& m = add_member(r, std::move(fresh));
    if (!s) {
        // The client went while Redis answered: the member is away, as after a network drop.
        m.away_deadline_ms = base::monotonic_ms() + _config.resume_grace_ms;
        m.away_index = static_cast<uint32_t>(_away.size());
        _away.push_back(&m);
    } else {
        s->parked = false;
        ws::parse_outcome head = ws::parse_http_request(*s->http_in, http_head_bytes_max);
        upgrade(*s, head.request, op.chorus_v1);
        attach(m, *s, false);  // present once its welcome is out
    }
    welcome_wait w;
    w.member = id;
    w.seq = seq;
    w.json = "{\"type\":\"welcome\",\"room\":\"" + r.id + "\",\"member\":" + std::to_string(id) +
             ",\"user\":\"" + escaped(m.user) + "\",\"name\":\"" + escaped(m.name) +
             "\",\"seq\":" + std::to_string(seq) +
             ",\"resumed\":false,\"gap\":" + (op.resume_failed ? "true" : "false") +
             ",\"resume\":\"" + resume_token(r, m) +
             "\",\"members\":" + members_json(v.items[2], id) + "}";
    r.welcomes.push_back(std::move(w));
    deliver_welcomes(r);
    apply_early(r);
}

void shard::on_resume_reply(pending_op& op, room& r, cluster_event& e) {
    session* s = find(op.conn);
    if (s && !s->parked) s = nullptr;
    const reply_value& v = e.value;
    if (e.ok && v.type == reply_value::kind::array && v.items.size() == 1) {
        // The member is gone (grace over, or a newer resume took it): an ordinary join.
        if (s) {
            s->parked = false;
            op.resume_failed = true;
            cluster_join(*s, r, std::move(op));
        }
        return;
    }
    if (!e.ok || v.type != reply_value::kind::array || v.items.size() != 4) {
        if (!e.ok) _orphans.insert(r.id);
        if (s) {
            s->parked = false;
            refuse(*s, 503, "overloaded", unreachable);
        }
        return;
    }
    uint64_t seq = as_number(v.items[0]);
    bool gap = as_number(v.items[1]) != 0;
    if (!r.synced) {
        load_members(r, v.items[3], op.member);
        r.synced = true;
        r.ledger->advance_to(seq);
    }
    member* m = nullptr;
    if (auto found = r.members.find(op.member); found != r.members.end()) m = found->second.get();
    if (m && m->node != 0) make_local(r, *m);
    if (m && m->connection) close_with(*m->connection, 4009, "taken over by a resume");
    if (m) leave_away_list(*m);
    if (!m) {
        auto fresh = std::make_unique<member>();
        fresh->id = op.member;
        m = &add_member(r, std::move(fresh));
    }
    m->leaving = false;
    for (size_t i = 0; i + 1 < v.items[3].items.size(); i += 2) {
        member_record own;
        if (v.items[3].items[i].text == std::to_string(m->id) &&
            parse_member_record(v.items[3].items[i + 1].text, &own)) {
            m->muted = own.muted;  // a mute (an admin's too) follows the member to this node
            m->admin_muted = own.admin_muted;
        }
    }
    m->user = std::move(op.user);
    m->name = std::move(op.name);
    m->speak = op.speak;
    m->admin = op.admin;
    m->resume_session = op.session;
    _metrics.resumes.add();
    if (!s) {
        m->away_deadline_ms = base::monotonic_ms() + _config.resume_grace_ms;
        m->away_index = static_cast<uint32_t>(_away.size());
        _away.push_back(m);
        return;
    }
    s->parked = false;
    ws::parse_outcome head = ws::parse_http_request(*s->http_in, http_head_bytes_max);
    upgrade(*s, head.request, op.chorus_v1);
    attach(*m, *s, false);
    welcome_wait w;
    w.member = m->id;
    w.seq = seq;
    w.json = "{\"type\":\"welcome\",\"room\":\"" + r.id + "\",\"member\":" + std::to_string(m->id) +
             ",\"user\":\"" + escaped(m->user) + "\",\"name\":\"" + escaped(m->name) +
             "\",\"seq\":" + std::to_string(seq) +
             ",\"resumed\":true,\"gap\":" + (gap ? "true" : "false") + ",\"resume\":\"" +
             resume_token(r, *m) + "\",\"members\":" + members_json(v.items[3], m->id) + "}";
    if (!gap) {
        for (const reply_value& item : v.items[2].items) {
            envelope env;
            if (parse_room_envelope(item.text, &env) && env.type == 'E')
                w.missed.emplace_back(env.body);
        }
    }
    r.welcomes.push_back(std::move(w));
    deliver_welcomes(r);
    apply_early(r);
}

void shard::on_leave_reply(pending_op& op, room& r, cluster_event& e) {
    auto found = r.members.find(op.member);
    member* m = found == r.members.end() ? nullptr : found->second.get();
    if (!m || !m->leaving) return;  // the `left` (or a move) was applied meanwhile
    if (!e.ok) {
        if (m->node != 0) {
            m->leaving = false;
            if (op.reason != "timeout") return;  // a kick that could not reach its node
            // Cannot reach Redis: try this member's timeout again in a second.
            m->away_deadline_ms = base::monotonic_ms() + 1000;
            if (m->away_index == UINT32_MAX) {
                m->away_index = static_cast<uint32_t>(_away.size());
                _away.push_back(m);
            }
            return;
        }
        // Degraded: the members here learn of it now; Redis learns at the next restore.
        if (m->connection) close_with(*m->connection, 4001, "kicked");
        std::string after = ",\"member\":" + std::to_string(m->id) + ",\"user\":\"" +
                            escaped(m->user) + "\",\"reason\":\"" + op.reason + "\"}";
        erase_member(r, *m);
        local_event(r, "{\"type\":\"left\",\"seq\":", after);
        return;
    }
    if (as_number(e.value) == 0) {
        // Not in Redis any more (or it moved on): let go here without an event.
        if (m->node == 0 && m->connection) close_with(*m->connection, 4009, "replaced");
        erase_member(r, *m);
    }
}

void shard::on_event_reply(pending_op& op, room& r, cluster_event& e) {
    if (e.ok) return;  // the event comes back through the room's channel
    if (op.event_kind == 'm') {
        auto found = r.members.find(op.member);
        if (found == r.members.end()) return;
        member& target = *found->second;
        target.muted = op.muted;
        if (op.by != target.id) {
            target.admin_muted = op.muted;
        } else if (!op.muted) {
            target.admin_muted = false;
        }
    }
    local_event(r, op.before, op.after);
}

// Degraded mode: an event for the members on this node only, numbered after the last seq seen.
void shard::local_event(room& r, std::string_view before, std::string_view after) {
    uint64_t seq = r.ledger->current_seq() + 1;
    std::string json(before);
    json += std::to_string(seq);
    json += after;
    shared_frame* frame = text_frame(json);
    r.ledger->advance_to(seq);
    r.ledger->record(seq, frame);
    std::vector<member*> targets = r.present;
    for (member* other : targets)
        if (other->connection) queue_control(*other->connection, frame);
    _pool.release(frame);
}

}  // namespace chorus::core
