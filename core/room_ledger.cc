// The in-process room ledger: a counter, a member-id counter and a bounded deque of events that
// a resuming member is replayed from. Events are kept encoded, except `joined` events, which are
// kept as their fields and rendered again on replay (a room of M members holds M of them).
#include "core/room_ledger.h"

#include <cstring>

#include "core/base/assert.h"
#include "core/limits.h"
#include "ws/handshake.h"

namespace chorus::core {

static_assert(user_id_bytes_max <= 255 && display_name_bytes_max <= 255,
              "member_names stores each name's length in a byte");

void joined_event::append_json(std::string& out) const {
    out += "{\"type\":\"joined\",\"seq\":";
    out += std::to_string(seq);
    out += ",\"member\":";
    out += std::to_string(member);
    out += ",\"user\":\"";
    ws::append_json_escaped(out, names.user());
    out += "\",\"name\":\"";
    ws::append_json_escaped(out, names.name());
    out += "\",\"muted\":";
    out += muted ? "true" : "false";
    out += ",\"speak\":";
    out += speak ? "true" : "false";
    out += ",\"admin\":";
    out += admin ? "true" : "false";
    out += '}';
}

local_ledger::~local_ledger() {
    for (entry& e : _history) drop(e);
}

uint32_t local_ledger::allocate_member() {
    // Ids are never reused while the room exists, so a stale id cannot name a newcomer.
    ++_next_member;
    if (_next_member == 0) _next_member = 1;
    return _next_member;
}

void local_ledger::advance_to(uint64_t seq) {
    if (seq <= _seq) return;
    if (seq > _seq + 1) {
        for (entry& e : _history) drop(e);
        _history.clear();
    }
    _seq = seq;
}

void local_ledger::record(uint64_t seq, shared_frame* frame) {
    if (_history_max == 0) return;
    _pool.retain(frame);
    entry e{};
    e.seq = seq;
    e.frame = frame;
    push(e);
}

void local_ledger::record_joined(const joined_event& event) {
    if (_history_max == 0) return;
    entry e{};
    e.seq = event.seq;
    e.names = member_names(event.names).into_raw();
    e.member = event.member;
    e.joined_flags = joined_flag_event | (event.muted ? joined_flag_muted : 0) |
                     (event.speak ? joined_flag_speak : 0) | (event.admin ? joined_flag_admin : 0);
    push(e);
}

void local_ledger::push(const entry& e) {
    _history.push_back(e);
    while (_history.size() > _history_max) {
        drop(_history.front());
        _history.pop_front();
    }
}

void local_ledger::drop(entry& e) {
    if (e.joined_flags) {
        member_names::from_raw(e.names);  // the temporary drops the reference
    } else {
        _pool.release(e.frame);
    }
}

// A kept frame with a reference for the caller, or a joined event rendered into a new frame.
shared_frame* local_ledger::render(const entry& e) const {
    if (!e.joined_flags) {
        _pool.retain(e.frame);
        return e.frame;
    }
    joined_event event;
    event.seq = e.seq;
    event.member = e.member;
    event.names = member_names::share_raw(e.names);
    event.muted = e.joined_flags & joined_flag_muted;
    event.speak = e.joined_flags & joined_flag_speak;
    event.admin = e.joined_flags & joined_flag_admin;
    std::string json;
    event.append_json(json);
    return make_text_frame(_pool, json);
}

bool local_ledger::replay(uint64_t after, const std::function<void(shared_frame*)>& visit) const {
    if (after >= _seq) return true;  // nothing missed
    if (_history.empty() || _history.front().seq > after + 1) return false;
    for (const entry& e : _history) {
        if (e.seq <= after) continue;
        shared_frame* frame = render(e);
        visit(frame);
        _pool.release(frame);
    }
    return true;
}

}  // namespace chorus::core
