// The room: member lifecycle, presence, held whispers, events and their fan-out.
#include "core/room.h"

#include "core/base/clock.h"
#include "core/limits.h"
#include "ws/handshake.h"

namespace chorus::core {

namespace {

void gauge_down(counter& gauge) {
    uint64_t value = gauge.get();
    gauge.set(value ? value - 1 : 0);
}

}  // namespace

void away_list::add(member& m, uint64_t deadline_ms) {
    m.away_deadline_ms = deadline_ms;
    if (m.away_index != UINT32_MAX) return;
    m.away_index = static_cast<uint32_t>(_members.size());
    _members.push_back(&m);
}

void away_list::remove(member& m) {
    if (m.away_index == UINT32_MAX) return;
    member* last = _members.back();
    _members[m.away_index] = last;
    last->away_index = m.away_index;
    _members.pop_back();
    m.away_index = UINT32_MAX;
}

room::room(std::string_view id, std::unique_ptr<room_ledger> ledger, session_writer& writer,
           away_list& away, audio_clock& clock)
    : _id(id),
      _ledger(std::move(ledger)),
      _writer(writer),
      _away(away),
      _clock(clock),
      _speaking(static_cast<uint8_t>(writer.config().speaking_level)) {
    seat_request open;
    open.what = seat_request::kind::count;
    open.count = writer.config().default_seats;
    (void)_seats.apply(open);
    _window.phase_ms = clock.phase_for(base::monotonic_ms());
}

room::~room() {
    _clock.forget(_window);
    for (member* m : _members) {
        _away.remove(*m);  // members of other nodes may wait out a grace
        drop_held(*m);
        if (m->connection) m->connection->self = nullptr;
        delete m;
    }
}

void room::hold_audio(shared_frame* frame, const member* except) {
    for (member* other : _present)
        if (other != except) _writer.hold_audio(*other->connection, frame);
    if (_window.index == UINT32_MAX) _clock.hold(*this, _window, base::monotonic_ms());
}

void room::deliver_audio_to(member& target, shared_frame* frame) {
    if (!target.connection || target.present_index == UINT32_MAX) return;
    if (!_clock.on()) return _writer.queue_audio(*target.connection, frame);
    _writer.hold_audio(*target.connection, frame);
    if (_window.index == UINT32_MAX) _clock.hold(*this, _window, base::monotonic_ms());
}

// Members that left the present list since their audio was held have a close (or a
// takeover) queued behind it, which sends it.
void room::release_audio() {
    for (member* m : _present) _writer.release_held(*m->connection);
}

member* room::find(uint32_t id) {
    return _members.find(id);
}

// A scan rather than a user index: it runs once per join, and an index would cost every member
// of every room another map node.
member* room::find_user(std::string_view user) {
    member* previous = nullptr;
    for (member* candidate : _members)
        if (candidate->user() == user) previous = candidate;
    return previous;
}

member& room::add(std::unique_ptr<member> fresh) {
    // An id is never handed out twice while its member exists; should a stale copy linger here
    // anyway, it goes properly (lists, counts) before the map slot is reused.
    if (member* stale = find(fresh->id)) erase(*stale);
    member& m = *fresh;
    m.home = this;
    if (m.node == 0) {
        ++_local;
        _writer.metrics().members.add();
    } else {
        ++_remote;
    }
    _members.insert(fresh.release());  // the room owns it from here: erase or ~room deletes it
    return m;
}

void room::attach(member& m, session& s) {
    const server_config& config = _writer.config();
    m.connection = &s;
    s.self = &m;
    s.kind = session_kind::room;
    s.reader = ws::message_reader(ws::role::server, config.max_frame_bytes);
    s.text_bucket = base::token_bucket(config.text_rate, config.text_burst, base::monotonic_ns());
}

void room::make_present(member& m) {
    CHORUS_ASSERT(m.connection != nullptr);
    CHORUS_ASSERT(m.present_index == UINT32_MAX);
    m.present_index = static_cast<uint32_t>(_present.size());
    _present.push_back(&m);
}

void room::detach(member& m) {
    if (!m.connection) return;
    m.connection->self = nullptr;
    m.connection = nullptr;
    if (m.present_index == UINT32_MAX) return;  // its welcome was not out yet
    member* last = _present.back();
    _present[m.present_index] = last;
    last->present_index = m.present_index;
    _present.pop_back();
    m.present_index = UINT32_MAX;
}

void room::go_away(member& m) {
    if (!m.connection) return;
    detach(m);
    _away.add(m, base::monotonic_ms() + _writer.config().resume_grace_ms);
}

void room::erase(member& m) {
    _speaking.forget(m.id);
    detach(m);
    _away.remove(m);
    drop_held(m);
    if (m.node == 0) {
        --_local;
        gauge_down(_writer.metrics().members);
    } else {
        --_remote;
    }
    (void)_members.erase(m.id);
    delete &m;
}

void room::make_local(member& m) {
    if (m.node == 0) return;
    _away.remove(m);
    m.node = 0;
    --_remote;
    ++_local;
    _writer.metrics().members.add();
}

void room::make_remote(member& m, uint16_t node) {
    detach(m);
    _away.remove(m);
    drop_held(m);
    if (m.node == 0) {
        --_local;
        ++_remote;
        gauge_down(_writer.metrics().members);
    }
    m.node = node;
    m.leaving = false;
}

void room::broadcast(shared_frame* frame, const member* except) {
    std::vector<member*> targets = _present;  // a slow consumer may be closed meanwhile
    for (member* other : targets)
        if (other != except && other->connection) _writer.queue_control(*other->connection, frame);
}

void room::broadcast_text(std::string_view json) {
    shared_frame* frame = _writer.text_frame(json);
    broadcast(frame, nullptr);
    _writer.pool().release(frame);
}

void room::send_speaking(member& m) {
    if (_speaking.empty() || !m.connection) return;
    _writer.send_text(*m.connection, _speaking.json());
}

void room::publish_event(uint64_t seq, std::string_view json, const member* except) {
    shared_frame* frame = _writer.text_frame(json);
    _ledger->record(seq, frame);
    broadcast(frame, except);
    _writer.pool().release(frame);
}

void room::publish_joined(const member& m, uint64_t seq, const member* except) {
    joined_event event = joined_of(m, seq);
    std::string json;
    event.append_json(json);
    shared_frame* frame = _writer.text_frame(json);
    _ledger->record_joined(event);
    broadcast(frame, except);
    _writer.pool().release(frame);
}

joined_event room::joined_of(const member& m, uint64_t seq) {
    joined_event event;
    event.seq = seq;
    event.member = m.id;
    event.names = m.names;
    event.muted = m.muted;
    event.speak = m.speak;
    event.admin = m.admin;
    return event;
}

void room::whisper(member& target, shared_frame* frame) {
    if (target.connection && target.present_index != UINT32_MAX) {
        _writer.queue_control(*target.connection, frame);
        return;
    }
    if (!target.held_whispers)
        target.held_whispers = std::make_unique<std::vector<shared_frame*>>();
    if (target.held_whispers->size() < whispers_held_max) {
        _writer.pool().retain(frame);  // delivered after the welcome (and replay) on resume
        target.held_whispers->push_back(frame);
    }
}

void room::flush_held(member& m) {
    if (!m.held_whispers) return;
    for (shared_frame* frame : *m.held_whispers) {
        if (m.connection) _writer.queue_control(*m.connection, frame);
        _writer.pool().release(frame);
    }
    m.held_whispers.reset();
}

void room::drop_held(member& m) {
    if (!m.held_whispers) return;
    for (shared_frame* frame : *m.held_whispers) _writer.pool().release(frame);
    m.held_whispers.reset();
}

void room::set_muted(member& m, bool muted, uint32_t by) {
    m.muted = muted;
    if (by != m.id) {
        m.admin_muted = muted;
    } else if (!muted) {
        m.admin_muted = false;
    }
}

void room::append_member(std::string& out, const member& m) {
    out += "{\"member\":" + std::to_string(m.id) + ",\"user\":\"";
    ws::append_json_escaped(out, m.user());
    out += "\",\"name\":\"";
    ws::append_json_escaped(out, m.name());
    out += "\",\"muted\":";
    out += m.muted ? "true" : "false";
    out += ",\"speak\":";
    out += m.speak ? "true" : "false";
    out += ",\"admin\":";
    out += m.admin ? "true" : "false";
    out += '}';
}

std::string room::welcome_json(const member& m, uint64_t seq, bool resumed, bool gap,
                               std::string_view resume_token) const {
    std::string json = "{\"type\":\"welcome\",\"room\":\"" + _id +
                       "\",\"member\":" + std::to_string(m.id) + ",\"user\":\"";
    ws::append_json_escaped(json, m.user());
    json += "\",\"name\":\"";
    ws::append_json_escaped(json, m.name());
    json += "\",\"seq\":" + std::to_string(seq) + ",\"resumed\":" + (resumed ? "true" : "false") +
            ",\"gap\":" + (gap ? "true" : "false") + ",\"admin\":" + (m.admin ? "true" : "false") +
            ",\"resume\":\"";
    json += resume_token;
    json += "\",\"seats\":{";
    _seats.append_seats_json(json);
    json += "},\"hands\":";
    _seats.append_hands_json(json);
    json += ",\"members\":[";
    bool first = true;
    for (const member* other : _members) {
        if (other == &m) continue;
        if (!first) json += ',';
        first = false;
        append_member(json, *other);
    }
    json += "]}";
    return json;
}

}  // namespace chorus::core
