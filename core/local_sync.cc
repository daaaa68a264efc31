// The single-node room rules.
#include "core/local_sync.h"

#include <openssl/rand.h>

#include "core/auth/resume_token.h"
#include "core/base/clock.h"
#include "ws/handshake.h"

namespace chorus::core {

namespace local_rules {

uint64_t new_session_nonce() {
    uint64_t value = 0;
    while (value == 0) RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value));
    return value;
}

std::string resume_token(const sync_context& context, const room& r, const member& m) {
    return make_resume_token(context.resume_key, r.id(), m.user(),
                             {m.id, m.resume_session, base::unix_seconds()});
}

void admit(const sync_context& context, session& s, room& r, member& m, bool resumed,
           const join_request& request) {
    session_writer& writer = context.writer;
    r.attach(m, s);
    r.make_present(m);
    uint64_t seq = resumed ? r.ledger().current_seq() : r.ledger().next_seq();
    bool gap = resumed ? !request.has_last_seq : request.resume_asked;
    std::vector<shared_frame*> missed;
    if (resumed && request.has_last_seq) {
        gap = !r.ledger().replay(request.last_seq, [&](shared_frame* frame) {
            writer.pool().retain(frame);
            missed.push_back(frame);
        });
    }
    writer.send_text(s, r.welcome_json(m, seq, resumed, gap, resume_token(context, r, m)));
    for (shared_frame* frame : missed) {
        writer.queue_control(s, frame);
        writer.pool().release(frame);
    }
    r.flush_held(m);
    r.send_speaking(m);
    if (resumed) return;
    r.publish_joined(m, seq, &m);
}

bool resume_here(const sync_context& context, session& s, room& r, join_request& request) {
    member* m = r.find(request.resume_member);
    if (!m || m->node != 0 || m->leaving || m->user() != request.user ||
        m->resume_session != request.resume_session)
        return false;
    if (m->connection) context.writer.close(*m->connection, 4009, "taken over by a resume");
    r.stay(*m);
    m->names = member_names(m->user(), request.name);
    m->resume_session = new_session_nonce();  // older tokens stop working
    context.writer.metrics().resumes.add();
    context.host.upgrade(s, request.chorus_v1);
    admit(context, s, r, *m, true, request);
    return true;
}

namespace {

void publish_numbered(room& r, std::string_view before, std::string_view after) {
    uint64_t seq = r.ledger().next_seq();
    std::string json(before);
    json += std::to_string(seq);
    json += after;
    r.publish_event(seq, json, nullptr);
}

}  // namespace

void release_seat(room& r, uint32_t member) {
    if (r.seats().stand(member))
        publish_numbered(r, seats_event_before, seats_event_after(r.seats(), 0));
    if (r.seats().lower_hand(member))
        publish_numbered(r, hand_event_before, hand_event_after(0, member, false));
}

void publish_seat_outcome(room& r, const seat_request& request, const seat_outcome& outcome,
                          uint32_t by) {
    if (outcome.seats_changed)
        publish_numbered(r, seats_event_before, seats_event_after(r.seats(), by));
    if (outcome.hand_changed) {
        bool raised = r.seats().hand_raised(request.member);
        publish_numbered(r, hand_event_before, hand_event_after(by, request.member, raised));
    }
}

}  // namespace local_rules

void local_sync::join(session& s, join_request&& request) {
    if (request.resume) {
        if (room* existing = _context.rooms.find(request.room))
            if (local_rules::resume_here(_context, s, *existing, request)) return;
        // The grace has run out: an ordinary join follows.
    }
    bool created = false;
    room& r = _context.rooms.open(request.room, &created);
    member* previous = r.find_user(request.user);
    size_t occupied = r.members().size() - (previous ? 1 : 0);
    if (occupied >= _context.config.max_room_members) {
        _context.host.refuse(s, 409, "room_full", "the room is full");
        maybe_end(r);
        return;
    }
    if (previous) {
        if (previous->connection)
            _context.writer.close(*previous->connection, 4009, "replaced by a new connection");
        gone(*previous, "replaced", false);  // the newcomer keeps the room alive
    }
    auto fresh = std::make_unique<member>();
    fresh->id = r.ledger().allocate_member();
    fresh->names = member_names(request.user, request.name);
    fresh->speak = request.speak;
    fresh->admin = request.admin;
    fresh->resume_session = local_rules::new_session_nonce();
    member& m = r.add(std::move(fresh));
    _context.host.upgrade(s, request.chorus_v1);
    local_rules::admit(_context, s, r, m, false, request);
}

void local_sync::leave(member& m, std::string_view reason) {
    gone(m, reason, true);
}

void local_sync::kick(member& target) {
    if (target.connection) {
        _context.writer.close(*target.connection, 4001, "kicked");  // emits left (kicked)
    } else {
        gone(target, "kicked", true);
    }
}

void local_sync::post_event(room& r, room_event&& event) {
    if (event.kind == 'm')
        if (member* target = r.find(event.member)) room::set_muted(*target, event.muted, event.by);
    uint64_t seq = r.ledger().next_seq();
    std::string json = std::move(event.before);
    json += std::to_string(seq);
    json += event.after;
    r.publish_event(seq, json, nullptr);
}

void local_sync::change_seats(room& r, member& by, const seat_request& request) {
    seat_outcome outcome = r.seats().apply(request);
    if (outcome.error != seat_error::none) {
        if (by.connection)
            _context.writer.send_error(*by.connection, seat_error_code(outcome.error),
                                       seat_error_text(outcome.error));
        return;
    }
    local_rules::publish_seat_outcome(r, request, outcome, by.id);
}

// The member leaves the room for good: `left` to everyone, and the room ends if it was the last.
void local_sync::gone(member& m, std::string_view reason, bool end_room_if_empty) {
    room& r = *m.home;
    uint64_t seq = r.ledger().next_seq();
    std::string json = "{\"type\":\"left\",\"seq\":" + std::to_string(seq) +
                       ",\"member\":" + std::to_string(m.id) + ",\"user\":\"";
    ws::append_json_escaped(json, m.user());
    json += "\",\"reason\":\"";
    json += reason;
    json += "\"}";
    uint32_t id = m.id;
    r.erase(m);
    r.publish_event(seq, json, nullptr);
    local_rules::release_seat(r, id);
    if (end_room_if_empty) maybe_end(r);
}

void local_sync::maybe_end(room& r) {
    if (r.members().empty()) _context.rooms.end(r);
}

}  // namespace chorus::core
