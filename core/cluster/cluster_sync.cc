// A shard's side of the cluster (docs/CLUSTER.md): joins, resumes, leaves and room events go to
// Redis as scripts through the cluster engine, and a request waits (parked, still in HTTP) for the
// answer. Nothing here blocks: replies come back through the shard's ring like any other record.
// When Redis is unreachable the shard keeps its own members going: audio and events among the
// members on this node, with seqs that continue from the last one seen.
#include "core/cluster/cluster_sync.h"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>

#include "core/base/clock.h"
#include "core/cluster/audio_batch.h"
#include "core/limits.h"
#include "core/local_sync.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace chorus::core::cluster {

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

bool cluster_sync::link_up(std::string_view room) const {
    uint32_t server = _engine.server_for(room);
    return server < _link_up.size() && _link_up[server];
}

void cluster_sync::cluster_post(cluster_request* request) {
    request->shard = _context.shard;
    if (!_cluster_backlog.empty() || !_hub.to_engine[_context.shard]->try_push({request})) {
        if (request->op == cluster_op::publish || request->op == cluster_op::node_publish) {
            _hub.counters.dropped.fetch_add(1, std::memory_order_relaxed);
            delete request;
            return;
        }
        _cluster_backlog.push_back(request);
    }
    _cluster_wake = true;
}

// End of a pass: what the ring did not take goes now, and the engine is woken once.
void cluster_sync::cluster_flush() {
    while (!_cluster_backlog.empty() &&
           _hub.to_engine[_context.shard]->try_push({_cluster_backlog.front()}))
        _cluster_backlog.pop_front();
    if (_cluster_wake) {
        _cluster_wake = false;
        _engine.wake();
    }
}

uint64_t cluster_sync::run_room_script(room& r, room_script script, std::vector<std::string> args,
                                       pending_op op) {
    auto* request = new cluster_request;
    request->op = cluster_op::script;
    request->script = script;
    request->room = r.id();
    request->args = std::move(args);
    uint64_t tag = _next_tag++;
    request->tag = tag;
    op.room = r.id();
    _pending.emplace(tag, std::move(op));
    ++state(r).pending;
    cluster_post(request);
    return tag;
}

std::string cluster_sync::record_of(const member& m) const {
    return make_member_record(_nodes[0].instance, m.resume_session, m.muted, m.admin_muted,
                              escaped(m.user()), escaped(m.name()), m.speak, m.admin);
}

// A join for the room at Redis: a member id unique in the cluster, the `joined` event's seq, and
// the member list as of that seq. A member of the same user elsewhere is replaced there.
void cluster_sync::cluster_join(session& s, room& r, pending_op op) {
    uint32_t server = _engine.server_for(r.id());
    if (!link_up(r.id())) {
        _context.host.refuse(s, 503, "overloaded", unreachable);
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
                                     std::to_string(_context.config.max_room_members),
                                     std::to_string(_epochs[server]),
                                     op.admin ? "1" : "0",
                                     new_room_seats()};
    s.parked = true;
    run_room_script(r, room_script::join, std::move(args), std::move(op));
}

void cluster_sync::cluster_resume(session& s, std::string_view room_id, pending_op op) {
    room& r = open_room(room_id);
    if (!link_up(r.id())) {
        _context.host.refuse(s, 503, "overloaded", unreachable);
        maybe_end_room(r);
        return;
    }
    op.kind = op_kind::resume;
    op.conn = s.conn;
    op.session = random_nonce();
    std::vector<std::string> args = {_nodes[0].instance,
                                     std::to_string(op.member),
                                     escaped(op.user),
                                     std::to_string(op.resume_session),
                                     std::to_string(op.session),
                                     op.has_last_seq ? std::to_string(op.last_seq) : "",
                                     std::to_string((op.speak ? 1 : 0) + (op.admin ? 2 : 0))};
    s.parked = true;
    run_room_script(r, room_script::resume, std::move(args), std::move(op));
}

// The member leaves the room for good. Its `left` comes back through the room's channel; a
// member on a node that died is only let go if it is still on that node (it may have resumed).
void cluster_sync::cluster_leave(member& m, std::string_view reason) {
    if (m.leaving) return;
    m.leaving = true;
    room& r = *m.home;
    pending_op op;
    op.kind = op_kind::leave;
    op.member = m.id;
    op.reason = reason;
    op.op_id = next_op_id();
    std::string expect = reason == "kicked" ? "" : _nodes[m.node].instance;
    // A member of another node times out only if that node is still silent in Redis.
    std::string silent =
        m.node != 0 && reason == "timeout" ? std::to_string(_context.config.node_timeout_ms) : "";
    run_room_script(r, room_script::leave,
                    {std::to_string(m.id), std::string(reason), expect, silent, op.op_id},
                    std::move(op));
}

// Room audio crosses to each other node holding members of the room, once per node: the engine
// batches the frames of one pass per peer node (core/cluster/audio_batch.h). Only while the room
// has members elsewhere; a node known dead gets nothing (its members are away). A 0x03 frame's
// level goes with it, for the other nodes' speaking sets.
void cluster_sync::cluster_publish_audio(room& r, const shared_frame* frame, uint32_t from,
                                         uint8_t level) {
    if (r.remote_members() == 0 || !link_up(r.id())) return;
    uint16_t peers[16];
    size_t count = 0;
    bool many = false;
    for (const member* m : r.members()) {
        uint16_t node = m->node;
        if (node == 0 || node >= _nodes.size() || _nodes[node].dead) continue;
        if (std::find(peers, peers + count, node) != peers + count) continue;
        if (count == std::size(peers)) {
            many = true;
            break;
        }
        peers[count++] = node;
    }
    if (count == 0) return;
    auto* request = new cluster_request;
    request->op = cluster_op::publish;
    request->room = r.id();
    request->args.reserve(count);
    for (size_t i = 0; i < count; ++i) request->args.push_back(_nodes[peers[i]].instance);
    if (many) {  // a room over more than 16 other nodes: the rest, without the fixed array
        for (const member* m : r.members()) {
            uint16_t node = m->node;
            if (node == 0 || node >= _nodes.size() || _nodes[node].dead) continue;
            const std::string& instance = _nodes[node].instance;
            if (std::find(request->args.begin(), request->args.end(), instance) ==
                request->args.end())
                request->args.push_back(instance);
        }
    }
    request->payload.assign(reinterpret_cast<const char*>(frame->data()), frame->size);
    request->from = from;
    request->level = level <= 127 ? level : audio_batch_no_level;
    cluster_post(request);
}

// A whisper (text W, audio V) for a member on another node goes to that node only.
bool cluster_sync::cluster_whisper(room& r, member& target, const shared_frame* frame, char type) {
    if (target.node == 0) return false;
    if (!link_up(r.id())) return true;  // dropped: nobody can carry it now
    auto* request = new cluster_request;
    request->op = cluster_op::node_publish;
    request->room = r.id();
    request->target = _nodes[target.node].instance;
    request->payload = std::string(1, type) + "|" + r.id() + "|" + std::to_string(target.id) + "|";
    request->payload.append(reinterpret_cast<const char*>(frame->data()), frame->size);
    cluster_post(request);
    return true;
}

void cluster_sync::drain_cluster_ring() {
    _hub.to_shard[_context.shard]->consume(
        [&](const cluster_record& record) {
            std::unique_ptr<cluster_event> event(static_cast<cluster_event*>(record.item));
            on_cluster_event(*event);
        },
        ring_records_per_pass_max);
}

void cluster_sync::on_cluster_event(cluster_event& e) {
    switch (e.kind) {
        case cluster_event_kind::reply: {
            auto found = _pending.find(e.tag);
            if (found == _pending.end()) return;
            pending_op op = std::move(found->second);
            _pending.erase(found);
            room* r = _context.rooms.find(op.room);
            if (!r) return;
            room& rm = *r;
            --state(rm).pending;
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
                case op_kind::seats:
                    on_seats_reply(op, rm, e);
                    break;
            }
            if (room* again = _context.rooms.find(op.room)) maybe_end_room(*again);
            return;
        }
        case cluster_event_kind::room_message: {
            if (room* r = _context.rooms.find(e.room)) on_room_message(*r, e.payload);
            return;
        }
        case cluster_event_kind::node_message:
            on_node_message(e);
            return;
        case cluster_event_kind::audio_batch:
            on_audio_batch(e);
            return;
        case cluster_event_kind::link:
            on_link(e);
            return;
        case cluster_event_kind::nodes:
            on_nodes(e);
            return;
    }
}

void cluster_sync::on_join_reply(pending_op& op, room& r, cluster_event& e) {
    session* s = _context.host.find(op.conn);
    if (s && !s->parked) s = nullptr;
    const reply_value& v = e.value;
    bool full = v.type == reply_value::kind::array && !v.items.empty() &&
                v.items[0].type == reply_value::kind::string && v.items[0].text == "full";
    if (!e.ok || full || v.type != reply_value::kind::array || v.items.size() != 5) {
        // The script may have run with its answer lost: the room gets a restore once Redis is
        // back, which lets go of a member registered for nobody.
        if (!e.ok) _orphans.insert(r.id());
        if (s) {
            s->parked = false;
            if (full) {
                _context.host.refuse(*s, 409, "room_full", "the room is full");
            } else {
                _context.host.refuse(*s, 503, "overloaded", unreachable);
            }
        }
        return;
    }
    uint32_t id = static_cast<uint32_t>(as_number(v.items[0]));
    uint64_t seq = as_number(v.items[1]);
    if (!state(r).synced) load_members(r, v.items[2], id);
    if (!state(r).synced) load_seats(r, v.items[3], v.items[4]);
    if (!state(r).synced) {
        state(r).synced = true;
        r.ledger().advance_to(seq);
    }
    auto fresh = std::make_unique<member>();
    fresh->id = id;
    fresh->names = member_names(op.user, op.name);
    fresh->speak = op.speak;
    fresh->admin = op.admin;
    fresh->resume_session = op.session;
    member& m = add_member(r, std::move(fresh));
    if (!s) {
        // The client went while Redis answered: the member is away, as after a network drop.
        r.hold(m, base::monotonic_ms() + _context.config.resume_grace_ms);
    } else {
        s->parked = false;
        _context.host.upgrade(*s, op.chorus_v1);
        r.attach(m, *s);  // present once its welcome is out
    }
    state(r).welcomes.push_back(
        welcome_for(r, m, seq, false, op.resume_failed, v.items[2], v.items[3], v.items[4]));
    deliver_welcomes(r);
    apply_early(r);
}

void cluster_sync::on_resume_reply(pending_op& op, room& r, cluster_event& e) {
    session* s = _context.host.find(op.conn);
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
    if (!e.ok || v.type != reply_value::kind::array || v.items.size() != 6) {
        if (!e.ok) _orphans.insert(r.id());
        if (s) {
            s->parked = false;
            _context.host.refuse(*s, 503, "overloaded", unreachable);
        }
        return;
    }
    uint64_t seq = as_number(v.items[0]);
    bool gap = as_number(v.items[1]) != 0;
    if (!state(r).synced) {
        load_members(r, v.items[3], op.member);
        load_seats(r, v.items[4], v.items[5]);
        state(r).synced = true;
        r.ledger().advance_to(seq);
    }
    member* m = r.find(op.member);
    if (m && m->node != 0) r.make_local(*m);
    if (m && m->connection) _writer.close(*m->connection, 4009, "taken over by a resume");
    if (m) r.stay(*m);
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
    m->names = member_names(op.user, op.name);
    m->speak = op.speak;
    m->admin = op.admin;
    m->resume_session = op.session;
    _writer.metrics().resumes.add();
    if (!s) {
        r.hold(*m, base::monotonic_ms() + _context.config.resume_grace_ms);
        return;
    }
    s->parked = false;
    _context.host.upgrade(*s, op.chorus_v1);
    r.attach(*m, *s);
    welcome_wait w = welcome_for(r, *m, seq, true, gap, v.items[3], v.items[4], v.items[5]);
    if (!gap) {
        for (const reply_value& item : v.items[2].items) {
            envelope env;
            if (parse_room_envelope(item.text, &env) && env.type == 'E')
                w.missed.emplace_back(env.body);
        }
    }
    state(r).welcomes.push_back(std::move(w));
    deliver_welcomes(r);
    apply_early(r);
}

// A welcome that waits for the room to reach its seq; its member list comes from Redis.
welcome_wait cluster_sync::welcome_for(room& r, const member& m, uint64_t seq, bool resumed,
                                       bool gap, const reply_value& members,
                                       const reply_value& seats_text,
                                       const reply_value& hands_text) const {
    seat_state seats;  // as of seq: what the script saw (left empty if it is not well-formed)
    (void)seats.decode_seats(seats_text.text);
    (void)seats.decode_hands(hands_text.text);
    std::string seats_json, hands_json;
    seats.append_seats_json(seats_json);
    seats.append_hands_json(hands_json);
    welcome_wait w;
    w.member = m.id;
    w.seq = seq;
    w.json = "{\"type\":\"welcome\",\"room\":\"" + r.id() +
             "\",\"member\":" + std::to_string(m.id) + ",\"user\":\"" + escaped(m.user()) +
             "\",\"name\":\"" + escaped(m.name()) + "\",\"seq\":" + std::to_string(seq) +
             ",\"resumed\":" + (resumed ? "true" : "false") +
             ",\"gap\":" + (gap ? "true" : "false") + ",\"admin\":" + (m.admin ? "true" : "false") +
             ",\"resume\":\"" + local_rules::resume_token(_context, r, m) + "\",\"seats\":{" +
             seats_json + "},\"hands\":" + hands_json +
             ",\"members\":" + members_json(members, m.id) + "}";
    return w;
}

void cluster_sync::on_leave_reply(pending_op& op, room& r, cluster_event& e) {
    member* m = r.find(op.member);
    if (!m || !m->leaving) return;  // the `left` (or a move) was applied meanwhile
    if (!e.ok) {
        if (m->node != 0) {
            m->leaving = false;
            if (op.reason != "timeout") return;  // a kick that could not reach its node
            // Cannot reach Redis: try this member's timeout again in a second.
            r.hold(*m, base::monotonic_ms() + 1000);
            return;
        }
        // Degraded: the members here learn of it now; Redis learns at the next restore (or
        // ran the script after all: its events are then dropped here as already delivered).
        for (char kind : {'l', 's', 'h'}) (void)first_delivery(op.op_id, kind);
        if (m->connection) _writer.close(*m->connection, 4001, "kicked");
        std::string after = ",\"member\":" + std::to_string(m->id) + ",\"user\":\"" +
                            escaped(m->user()) + "\",\"reason\":\"" + op.reason + "\"}";
        uint32_t id = m->id;
        erase_member(r, *m);
        local_event(r, "{\"type\":\"left\",\"seq\":", after);
        if (r.seats().stand(id))
            local_event(r, seats_event_before, seats_event_after(r.seats(), 0));
        if (r.seats().lower_hand(id))
            local_event(r, hand_event_before, hand_event_after(0, id, false));
        return;
    }
    if (as_number(e.value) == 0) {
        // Not in Redis any more (or it moved on): let go here without an event.
        if (m->node == 0 && m->connection) _writer.close(*m->connection, 4009, "replaced");
        erase_member(r, *m);
    }
}

}  // namespace chorus::core::cluster
