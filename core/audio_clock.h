// The audio clock of `--audio-batch` (docs/ARCHITECTURE.md, "Audio window"): audio for a room's
// receivers is held in their queues and sent at the room's next window boundary, so that a
// receiver gets one send per window with every speaker's frames instead of one per frame. Each
// room keeps its own phase (the millisecond of the window it was opened in), so the rooms of a
// shard spread their sends over the window rather than all flushing at once.
//
// A timing wheel with one slot per millisecond of the window: a room waits in the slot of its
// due time, so holding and forgetting are O(1), and a loop pass looks only at the slots of the
// milliseconds that went by since the last one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace chorus::core {

class room;

class audio_clock {
  public:
    // Where a room is in the wheel (kept in the room).
    struct entry {
        uint64_t due_ms = 0;
        uint32_t index = UINT32_MAX;  // position in its slot, UINT32_MAX while not waiting
        uint32_t phase_ms = 0;
    };

    // `window_ms` 0: no clock (audio goes out in the pass it arrived in).
    explicit audio_clock(uint32_t window_ms);

    bool on() const { return _window_ms != 0; }
    uint32_t window_ms() const { return _window_ms; }
    // The phase of a room opened at `now_ms`.
    uint32_t phase_for(uint64_t now_ms) const { return on() ? uint32_t(now_ms % _window_ms) : 0; }
    // `r` (whose entry is `e`) holds audio: it is due at its first boundary after `now_ms`. No-op
    // while it already waits.
    void hold(room& r, entry& e, uint64_t now_ms);
    // `e`'s room is going: it no longer waits.
    void forget(entry& e);
    // When the earliest waiting room is due (monotonic ms), UINT64_MAX when none waits.
    uint64_t next_due_ms();
    // Calls `release(room&)` for every room due at `now_ms`, which then no longer waits.
    template <typename Fn>
    void release_due(uint64_t now_ms, Fn&& release) {
        if (_waiting == 0 || now_ms <= _swept_ms || now_ms < _next_due_ms) return;
        uint64_t from = _swept_ms + 1;
        uint64_t steps = std::min<uint64_t>(now_ms - _swept_ms, _window_ms);
        _swept_ms = now_ms;
        for (uint64_t t = from; t < from + steps; ++t) {
            std::vector<room*>& slot = _slots[t % _window_ms];
            for (size_t i = 0; i < slot.size();) {
                entry& e = entry_of(*slot[i]);
                if (e.due_ms > now_ms) {  // a later turn of the wheel (after a stalled pass)
                    ++i;
                    continue;
                }
                room* due = slot[i];
                remove(e);  // swaps another room into slot i
                release(*due);
            }
        }
        _next_due_known = false;
    }

  private:
    static entry& entry_of(room& r);
    void remove(entry& e);

    uint32_t _window_ms;
    uint32_t _waiting = 0;
    uint64_t _swept_ms = 0;  // every room due at or before this was released
    uint64_t _next_due_ms = UINT64_MAX;
    bool _next_due_known = true;
    std::vector<std::vector<room*>> _slots;  // by due_ms % window
};

}  // namespace chorus::core
