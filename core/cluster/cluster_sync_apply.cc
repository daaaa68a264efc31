// What reaches a shard from the rest of the cluster: room events in seq order (applied to the
// room's member list, then sent to the members here), audio from other nodes, whispers, members
// that resumed elsewhere, the live-node list (members of a dead node time out after the grace),
// and Redis going away and coming back (the room state is restored from what this node holds).
#include <algorithm>
#include <charconv>
#include <utility>

#include "core/base/clock.h"
#include "core/cluster/audio_batch.h"
#include "core/cluster/cluster_sync.h"
#include "core/limits.h"
#include "core/local_sync.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace chorus::core::cluster {

namespace {

uint32_t parse_id(std::string_view text) {
    uint32_t out = 0;
    std::from_chars(text.data(), text.data() + text.size(), out);
    return out;
}

}  // namespace

void cluster_sync::on_room_message(room& r, std::string& payload) {
    envelope env;
    if (!parse_room_envelope(payload, &env)) return;  // not ours to trust
    switch (env.type) {
        case 'M':
        case 'R':
            if (!state(r).synced) {  // applied once the member list is here (idempotent, in order)
                if (state(r).early_moves.size() < _context.config.history)
                    state(r).early_moves.push_back(std::move(payload));
                return;
            }
            if (env.type == 'M') {
                on_moved(r, env);
            } else if (env.instance != _nodes[0].instance) {
                // The restore on its way may have run before that node's members were back:
                // its reply would drop them as gone, so one more follows it.
                if (state(r).restoring) {
                    state(r).restore_again = true;
                } else {
                    restore_room(r);
                }
            }
            return;
        case 'E':
            if (!state(r).synced) {
                // Before the member list: kept until it arrives (bounded like the history).
                if (state(r).early.size() < _context.config.history)
                    state(r).early.emplace(env.seq, std::move(payload));
                return;
            }
            apply_event(r, env);
            return;
    }
}

// One room event, in seq order: the member list changes, then every member here gets it.
// What arrived before the room's member list, now in order. The room may end on the way (its
// last member here replaced), so it is looked up again each time.
void cluster_sync::apply_early(room& r) {
    std::string id = r.id();
    std::vector<std::string> moves;
    moves.swap(state(r).early_moves);
    std::map<uint64_t, std::string> early;
    early.swap(state(r).early);
    for (std::string& payload : moves) {
        room* found = _context.rooms.find(id);
        if (!found) return;
        on_room_message(*found, payload);
    }
    for (auto& [seq, payload] : early) {
        room* found = _context.rooms.find(id);
        if (!found) return;
        on_room_message(*found, payload);
    }
}

void cluster_sync::apply_event(room& r, const envelope& env) {
    if (env.seq <= r.ledger().current_seq()) return;  // already seen, or covered by the list
    if (env.seq > r.ledger().current_seq() + 1 && !state(r).restoring) {
        // Events went missing (a lost message): the member list is fetched again.
        restore_room(r);
    }
    if (!first_delivery(env.op, env.kind)) {
        // Ours, and delivered here already when the script's reply failed: the seq moves on.
        r.ledger().advance_to(env.seq);
        return;
    }
    member* m = r.find(env.member);
    bool ended = false;
    switch (env.kind) {
        case 'j':
            if (!m && env.a1 != _nodes[0].instance) {
                auto fresh = std::make_unique<member>();
                fresh->id = env.member;
                fresh->node = node_index(env.a1);
                fresh->speak = env.a2.empty() || env.a2[0] == '1';
                fresh->admin = env.a2.size() > 1 && env.a2[1] == '1';
                add_member(r, std::move(fresh));
            }
            break;
        case 's':
            (void)r.seats().decode_seats(env.a1);
            break;
        case 'h':
            (void)r.seats().decode_hands(env.a1);
            break;
        case 'l':
            if (m) {
                if (m->node == 0 && m->connection) {
                    m->leaving = true;
                    if (env.a1 == "kicked") {
                        _writer.close(*m->connection, 4001, "kicked");
                    } else if (env.a1 == "replaced") {
                        _writer.close(*m->connection, 4009, "replaced by a new connection");
                    } else {  // let go while connected (a cut-off node): join again
                        _writer.close(*m->connection, 1001, "no longer in the room");
                    }
                }
                erase_member(r, *m);
                ended = true;
            }
            break;
        case 'm':
            if (m) room::set_muted(*m, env.a1 == "1", parse_id(env.a2));
            break;
        default:
            break;
    }
    shared_frame* frame = _writer.text_frame(env.body);
    r.ledger().advance_to(env.seq);
    r.ledger().record(env.seq, frame);
    r.broadcast(frame, nullptr);
    _writer.pool().release(frame);
    deliver_welcomes(r);
    if (ended) maybe_end_room(r);
}

// A member resumed on another node: it is theirs now. If it was ours, its old connection goes
// (4009, no event), as with a takeover on one node.
void cluster_sync::on_moved(room& r, const envelope& env) {
    if (env.instance == _nodes[0].instance) return;  // our own resume: its reply does the rest
    uint16_t node = node_index(env.instance);
    member* found = r.find(env.member);
    if (!found) {
        auto fresh = std::make_unique<member>();
        fresh->id = env.member;
        fresh->node = node;
        add_member(r, std::move(fresh));
        return;
    }
    member& m = *found;
    if (m.node == 0) {
        if (m.connection) _writer.close(*m.connection, 4009, "taken over by a resume");
        // Text whispers held for it follow it to its new node, in order.
        if (m.held_whispers) {
            m.node = node;
            for (shared_frame* whisper : *m.held_whispers) cluster_whisper(r, m, whisper, 'W');
            m.node = 0;
        }
        r.make_remote(m, node);
        maybe_end_room(r);
        return;
    }
    r.stay(m);
    m.leaving = false;
    m.node = node;
}

void cluster_sync::relay_audio(room& r, std::string_view bytes) {
    shared_frame* frame = _writer.copy_frame(bytes);
    r.deliver_audio(frame, nullptr);
    _writer.pool().release(frame);
}

// Room audio of other nodes, many rooms in one message: the rooms this shard holds get theirs.
void cluster_sync::on_audio_batch(const cluster_event& e) {
    audio_batch batch;
    if (!parse_audio_batch(e.payload, &batch) || batch.instance == _nodes[0].instance) return;
    std::string_view records = batch.records;
    audio_record record;
    uint64_t now = base::monotonic_ms();
    while (next_audio_record(records, &record)) {
        room* r = _context.rooms.find(record.room);
        if (!r) continue;
        relay_audio(*r, record.frame);
        if (record.level != audio_batch_no_level)
            r->speaking().note(record.from, record.level, now);
    }
}

void cluster_sync::on_node_message(cluster_event& e) {
    envelope env;
    if (!parse_node_envelope(e.payload, &env)) return;
    room* r = _context.rooms.find(env.room);
    if (!r) return;
    member* found = r->find(env.member);
    if (!found || found->node != 0) return;
    member& m = *found;
    shared_frame* frame = _writer.copy_frame(env.body);
    if (env.type == 'W') {
        // Held until the welcome is out (and after it the replay) when it is not yet present.
        r->whisper(m, frame);
    } else {
        r->deliver_audio_to(m, frame);  // a voice whisper: lossy, on the room's clock
    }
    _writer.pool().release(frame);
}

void cluster_sync::on_link(const cluster_event& e) {
    if (e.server >= _link_up.size()) return;
    _link_up[e.server] = e.ok;
    bool all_up = std::find(_link_up.begin(), _link_up.end(), false) == _link_up.end();
    if (all_up != _all_links_up) {
        _all_links_up = all_up;
        if (all_up) {
            _hub.shards_linked.fetch_add(1, std::memory_order_release);
        } else {
            _hub.shards_linked.fetch_sub(1, std::memory_order_release);
        }
    }
    if (!e.ok) {
        // A welcome waiting for its own event would wait for Redis: the client is told now
        // (1011, so it counts as away) rather than left hanging after its 101.
        std::vector<session*> waiting;
        for (auto& [id, r] : _context.rooms.rooms()) {
            if (_engine.server_for(id) != e.server) continue;
            for (const welcome_wait& w : state(*r).welcomes) {
                member* found = r->find(w.member);
                if (found && found->connection) waiting.push_back(found->connection);
            }
        }
        for (session* s : waiting) _writer.close(*s, 1011, "the cluster engine is unreachable");
        return;
    }
    _epochs[e.server] = e.epoch;
    // Heartbeats we could not read while cut off are not a node's fault: count from now.
    uint64_t now = base::monotonic_ms();
    for (node_entry& n : _nodes)
        if (!n.dead) n.last_seen_ms = now;
    // Rooms whose join or resume went unanswered: restore them so Redis lets go of a member
    // registered for a client that got 503.
    std::vector<std::string> orphans;
    for (const std::string& id : _orphans)
        if (_engine.server_for(id) == e.server) orphans.push_back(id);
    for (const std::string& id : orphans) {
        _orphans.erase(id);
        if (!_context.rooms.find(id)) open_room(id);
    }
    restore_rooms(e.server);
}

// Redis is back (or was away from us): tell it again who is here and how far the rooms got.
void cluster_sync::restore_rooms(uint32_t server) {
    for (auto& [id, r] : _context.rooms.rooms())
        if (_engine.server_for(id) == server) restore_room(*r);
}

void cluster_sync::restore_room(room& r) {
    std::vector<std::string> args = {_nodes[0].instance, std::to_string(r.ledger().current_seq()),
                                     r.seats().encode_seats(), r.seats().encode_hands()};
    for (const member* m : r.members()) {
        if (m->node != 0 || m->leaving) continue;
        std::string user;
        ws::append_json_escaped(user, m->user());
        args.push_back(std::to_string(m->id));
        args.push_back(user);
        args.push_back(record_of(*m));
    }
    pending_op op;
    op.kind = op_kind::restore;
    state(r).restoring = true;
    run_room_script(r, room_script::restore, std::move(args), std::move(op));
}

// A member of another node, from its record in Redis; held away if that node is dead (it times
// out at `deadline` like the node's other members).
void cluster_sync::add_remote_member(room& r, uint32_t id, const member_record& record,
                                     uint64_t deadline) {
    auto fresh = std::make_unique<member>();
    fresh->id = id;
    fresh->muted = record.muted;
    fresh->speak = record.speak;
    fresh->admin = record.admin;
    fresh->node = node_index(record.instance);
    member& m = add_member(r, std::move(fresh));
    if (_nodes[m.node].dead) r.hold(m, deadline);
}

void cluster_sync::on_restore_reply(room& r, cluster_event& e) {
    state(r).restoring = false;
    bool again = std::exchange(state(r).restore_again, false);
    const reply_value& v = e.value;
    if (!e.ok || v.type != reply_value::kind::array || v.items.size() != 5) return;
    load_seats(r, v.items[2], v.items[3]);
    uint64_t seq = v.items[0].type == reply_value::kind::integer ? v.items[0].integer : 0;
    // Members elsewhere that are gone now, we missed their `left` while cut off.
    std::unordered_map<uint32_t, std::string_view> listed;
    const std::vector<reply_value>& pairs = v.items[1].items;
    for (size_t i = 0; i + 1 < pairs.size(); i += 2)
        listed.emplace(parse_id(pairs[i].text), pairs[i + 1].text);
    std::vector<member*> gone;  // and ours whose `left` was lost on the way
    for (member* m : r.members())
        if ((m->node != 0 || m->leaving) && !listed.count(m->id)) gone.push_back(m);
    for (member* m : gone) erase_member(r, *m);
    uint64_t deadline = base::monotonic_ms() + _context.config.resume_grace_ms;
    for (auto& [id, text] : listed) {
        member_record record;
        if (!parse_member_record(text, &record)) continue;
        member* found = r.find(id);
        if (record.instance == _nodes[0].instance) continue;
        if (!found) {
            add_remote_member(r, id, record, deadline);
        } else if (found->node == 0 && !found->leaving) {
            member& m = *found;  // resumed elsewhere while we were cut off
            if (m.connection) _writer.close(*m.connection, 4009, "taken over by a resume");
            r.make_remote(m, node_index(record.instance));
        }
    }
    state(r).synced = true;
    // The events the script wrote (the room's seats and hands for members here who saw others
    // while cut off, the `left` of members let go) are in `seq` too: were the ledger moved to
    // it first, their copies from the channel, which often come after this reply, would be
    // dropped as seen and the members here would never hear of them. They are applied from the
    // reply instead, in order; whichever copy comes second is dropped by seq.
    std::string id = r.id();
    room* at = &r;
    for (const reply_value& item : v.items[4].items) {
        envelope env;
        if (!parse_room_envelope(item.text, &env) || env.type != 'E') continue;
        // Redis's seq may be past this node's (it was cut off while others went on): no gap.
        if (env.seq > 0) at->ledger().advance_to(env.seq - 1);
        apply_event(*at, env);
        at = _context.rooms.find(id);  // its last member here may have been let go
        if (!at) return;
    }
    at->ledger().advance_to(seq);
    deliver_welcomes(*at);  // a welcome whose own event was lost with the connection
    if (again) restore_room(*at);
}

void cluster_sync::on_nodes(const cluster_event& e) {
    uint64_t now = base::monotonic_ms();
    for (const std::string& instance : e.live) node_index(instance);
    std::unordered_map<std::string_view, bool> live;
    for (const std::string& instance : e.live) live[instance] = true;
    for (uint16_t i = 1; i < _nodes.size(); ++i) {
        node_entry& n = _nodes[i];
        if (live.count(n.instance)) {
            n.last_seen_ms = now;
            if (n.dead) node_back(i);
            n.dead = false;
        } else if (!n.dead && now - n.last_seen_ms > _context.config.node_timeout_ms) {
            n.dead = true;
            node_dead(i);
        }
    }
}

// Members of a node that died are held for the resume grace, then time out (expire_away).
void cluster_sync::node_dead(uint16_t node) {
    uint64_t deadline = base::monotonic_ms() + _context.config.resume_grace_ms;
    for (auto& [id, r] : _context.rooms.rooms()) {
        for (member* m : r->members()) {
            if (m->node != node || m->leaving || m->away_index != UINT32_MAX) continue;
            r->hold(*m, deadline);
        }
    }
}

// A node we thought dead answers again (it was paused, or cut off from Redis): its members are
// no longer waiting to time out.
void cluster_sync::node_back(uint16_t node) {
    for (auto& [id, r] : _context.rooms.rooms())
        for (member* m : r->members())
            if (m->node == node && !m->leaving) r->stay(*m);
}

uint16_t cluster_sync::node_index(std::string_view instance) {
    for (uint16_t i = 0; i < _nodes.size(); ++i)
        if (_nodes[i].instance == instance) return i;
    // Instances are never forgotten (a restart is a new one); reuse a dead slot past the limit.
    if (_nodes.size() >= UINT16_MAX) {
        for (uint16_t i = 1; i < _nodes.size(); ++i) {
            if (!_nodes[i].dead) continue;
            _nodes[i] = {std::string(instance), base::monotonic_ms(), false};
            return i;
        }
        return 0;
    }
    _nodes.push_back({std::string(instance), base::monotonic_ms(), false});
    return static_cast<uint16_t>(_nodes.size() - 1);
}

// The member list Redis sent (pairs of id, record), for a room new on this node.
void cluster_sync::load_members(room& r, const reply_value& pairs, uint32_t except) {
    uint64_t deadline = base::monotonic_ms() + _context.config.resume_grace_ms;
    for (size_t i = 0; i + 1 < pairs.items.size(); i += 2) {
        uint32_t id = parse_id(pairs.items[i].text);
        member_record record;
        if (id == 0 || id == except || r.find(id)) continue;
        if (!parse_member_record(pairs.items[i + 1].text, &record)) continue;
        if (record.instance == _nodes[0].instance) continue;
        add_remote_member(r, id, record, deadline);
    }
}

void cluster_sync::load_seats(room& r, const reply_value& seats, const reply_value& hands) {
    (void)r.seats().decode_seats(seats.text);
    (void)r.seats().decode_hands(hands.text);
}

std::string cluster_sync::members_json(const reply_value& pairs, uint32_t except) const {
    std::string out = "[";
    for (size_t i = 0; i + 1 < pairs.items.size(); i += 2) {
        uint32_t id = parse_id(pairs.items[i].text);
        member_record record;
        if (id == 0 || id == except || !parse_member_record(pairs.items[i + 1].text, &record))
            continue;
        if (out.size() > 1) out += ',';
        out += "{\"member\":" + std::to_string(id) + ",\"user\":\"";
        out += record.user;
        out += "\",\"name\":\"";
        out += record.name;
        out += "\",\"muted\":";
        out += record.muted ? "true" : "false";
        out += ",\"speak\":";
        out += record.speak ? "true" : "false";
        out += ",\"admin\":";
        out += record.admin ? "true" : "false";
        out += '}';
    }
    out += ']';
    return out;
}

// Welcomes whose seq the room has reached go out, each followed by what it missed.
void cluster_sync::deliver_welcomes(room& r) {
    uint64_t applied = r.ledger().current_seq();
    for (size_t i = 0; i < state(r).welcomes.size();) {
        if (state(r).welcomes[i].seq > applied) {
            ++i;
            continue;
        }
        welcome_wait w = std::move(state(r).welcomes[i]);
        state(r).welcomes.erase(state(r).welcomes.begin() + static_cast<long>(i));
        if (member* found = r.find(w.member)) send_welcome(r, *found, w);
    }
}

void cluster_sync::send_welcome(room& r, member& m, welcome_wait& w) {
    if (!m.connection || m.node != 0 || m.present_index != UINT32_MAX) return;
    session& s = *m.connection;
    shared_frame* frame = _writer.text_frame(w.json);
    _writer.queue_control(s, frame);
    _writer.pool().release(frame);
    for (const std::string& json : w.missed) {
        frame = _writer.text_frame(json);
        _writer.queue_control(s, frame);
        _writer.pool().release(frame);
    }
    r.ledger().replay(w.seq, [&](shared_frame* event) { _writer.queue_control(s, event); });
    r.flush_held(m);
    r.send_speaking(m);
    if (!m.connection) return;  // closed as a slow consumer meanwhile
    r.make_present(m);
}

member& cluster_sync::add_member(room& r, std::unique_ptr<member> fresh) {
    if (member* stale = r.find(fresh->id)) erase_member(r, *stale);  // its welcome goes too
    return r.add(std::move(fresh));
}

void cluster_sync::erase_member(room& r, member& m) {
    std::erase_if(state(r).welcomes, [&](const welcome_wait& w) { return w.member == m.id; });
    r.erase(m);
}

}  // namespace chorus::core::cluster
