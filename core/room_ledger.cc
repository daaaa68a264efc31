// The in-process room ledger: a counter, a member-id counter and a bounded deque of encoded
// events that a resuming member is replayed from.
#include "core/room_ledger.h"

namespace chorus::core {

local_ledger::~local_ledger() {
    for (entry& e : _history) _pool.release(e.frame);
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
        for (entry& e : _history) _pool.release(e.frame);
        _history.clear();
    }
    _seq = seq;
}

void local_ledger::record(uint64_t seq, shared_frame* frame) {
    if (_history_max == 0) return;
    _pool.retain(frame);
    _history.push_back({seq, frame});
    while (_history.size() > _history_max) {
        _pool.release(_history.front().frame);
        _history.pop_front();
    }
}

bool local_ledger::replay(uint64_t after, const std::function<void(shared_frame*)>& visit) const {
    if (after >= _seq) return true;  // nothing missed
    if (_history.empty() || _history.front().seq > after + 1) return false;
    for (const entry& e : _history)
        if (e.seq > after) visit(e.frame);
    return true;
}

}  // namespace chorus::core
