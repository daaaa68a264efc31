// The audio clock's wheel: holding, forgetting and finding the next due room.
#include "core/audio_clock.h"

#include "core/room.h"

namespace chorus::core {

audio_clock::audio_clock(uint32_t window_ms) : _window_ms(window_ms), _slots(window_ms) {}

audio_clock::entry& audio_clock::entry_of(room& r) {
    return r.window();
}

void audio_clock::hold(room& r, entry& e, uint64_t now_ms) {
    if (e.index != UINT32_MAX || !on()) return;
    // A pass that read the clock before the last sweep must not land behind it.
    now_ms = std::max(now_ms, _swept_ms);
    uint64_t into_window = (now_ms + _window_ms - e.phase_ms % _window_ms) % _window_ms;
    e.due_ms = now_ms - into_window + _window_ms;
    std::vector<room*>& slot = _slots[e.due_ms % _window_ms];
    e.index = static_cast<uint32_t>(slot.size());
    slot.push_back(&r);
    ++_waiting;
    _next_due_ms = std::min(_next_due_ms, e.due_ms);
}

void audio_clock::forget(entry& e) {
    if (e.index == UINT32_MAX) return;
    remove(e);
    _next_due_known = false;
}

void audio_clock::remove(entry& e) {
    std::vector<room*>& slot = _slots[e.due_ms % _window_ms];
    room* last = slot.back();
    slot[e.index] = last;
    entry_of(*last).index = e.index;
    slot.pop_back();
    e.index = UINT32_MAX;
    --_waiting;
}

// Exact (not only a lower bound) whenever it is asked for: it sets how long the loop may sleep.
uint64_t audio_clock::next_due_ms() {
    if (_waiting == 0) return UINT64_MAX;
    if (_next_due_known) return _next_due_ms;
    uint64_t earliest = UINT64_MAX;
    for (uint64_t t = _swept_ms + 1; t <= _swept_ms + _window_ms; ++t) {
        for (room* r : _slots[t % _window_ms]) earliest = std::min(earliest, entry_of(*r).due_ms);
        if (earliest <= t) break;  // nothing in a later slot is due sooner
    }
    _next_due_ms = earliest;
    _next_due_known = true;
    return earliest;
}

}  // namespace chorus::core
