// A room's speaking set (PROTOCOL.md v1.1 §5): who had a relayed 0x03 frame at or louder than
// the threshold in the last 300 ms, the 8 loudest first, announced at most every 200 ms. Per frame
// it costs a scan of the members loud right now and one byte write, never a sort (and no
// allocation once as many members have been loud at once); the set itself is worked out when the
// shard polls (every 50 to 100 ms). The set changes when its members do; order alone does not.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace chorus::core {

class speaking_set {
  public:
    static constexpr uint64_t window_ms = 300;
    static constexpr uint64_t step_ms = 25;  // a frame counts for 300 to 325 ms
    static constexpr uint32_t steps = window_ms / step_ms + 1;
    static constexpr uint32_t members_max = 8;
    static constexpr uint64_t interval_ms = 200;  // between two announcements
    static constexpr uint32_t tracked_max = 256;  // loud members at once (beyond: not counted)
    static constexpr uint8_t silence = 127;

    explicit speaking_set(uint8_t threshold);

    // A frame of `member` with `level` (-dBov, 0 loudest) was relayed at `now_ms`.
    void note(uint32_t member, uint8_t level, uint64_t now_ms) {
        if (level > _threshold) return;  // only loud frames can make a member speak
        uint64_t step = now_ms / step_ms;
        for (tracked& t : _tracked)
            if (t.member == member) return t.add(step, level);
        if (_tracked.size() >= tracked_max) return;
        _tracked.emplace_back(member);  // grows only past the most ever loud at once
        _tracked.back().add(step, level);
    }
    // `member` left the room: it is no longer counted.
    void forget(uint32_t member);
    // Works the set out as of `now_ms`. True when it differs from the last one announced and an
    // announcement is due (200 ms after the previous): the caller sends json() to the room.
    bool poll(uint64_t now_ms);
    // Something to poll for: loud members, or an announced set that will change.
    bool active() const { return !_tracked.empty() || _announced_count != 0; }
    bool empty() const { return _announced_count == 0; }
    // {"type":"speaking","members":[...]} of the last announced set.
    std::string json() const;
    std::vector<uint32_t> members() const;

  private:
    struct tracked {
        explicit tracked(uint32_t id) : member(id) { levels.fill(silence + 1); }
        uint32_t member;
        uint64_t last_step = 0;
        std::array<uint8_t, steps> levels;  // the loudest per step, for last_step - steps + 1..
        void add(uint64_t step, uint8_t level) {
            if (step > last_step) {
                for (uint64_t s = last_step + 1; s <= step && s <= last_step + steps; ++s)
                    levels[s % steps] = silence + 1;
                last_step = step;
            }
            uint8_t& slot = levels[step % steps];
            if (step + steps > last_step && level < slot) slot = level;
        }
        // The loudest level within the window ending at `step`, or above silence when none.
        uint8_t loudest(uint64_t step) const;
    };
    uint8_t _threshold;
    std::vector<tracked> _tracked;
    std::array<uint32_t, members_max> _announced{};
    uint32_t _announced_count = 0;
    uint64_t _announced_ms = 0;
    bool _ever_announced = false;
};

}  // namespace chorus::core
