// The speaking set: per-member loudest level per 25 ms step, and the top 8 worked out on a poll.
#include "core/speaking.h"

#include <algorithm>

namespace chorus::core {

speaking_set::speaking_set(uint8_t threshold) : _threshold(std::min<uint8_t>(threshold, silence)) {}

uint8_t speaking_set::tracked::loudest(uint64_t step) const {
    uint8_t best = silence + 1;
    if (step >= last_step + steps) return best;
    uint64_t span = step > last_step ? steps - (step - last_step) : steps;
    for (uint64_t k = 0; k < span && k <= last_step; ++k)
        best = std::min(best, levels[(last_step - k) % steps]);
    return best;
}

void speaking_set::forget(uint32_t member) {
    for (size_t i = 0; i < _tracked.size(); ++i) {
        if (_tracked[i].member != member) continue;
        _tracked[i] = _tracked.back();
        _tracked.pop_back();
        return;
    }
}

bool speaking_set::poll(uint64_t now_ms) {
    uint64_t step = now_ms / step_ms;
    std::array<uint32_t, members_max> ids{};
    std::array<uint8_t, members_max> levels{};
    uint32_t count = 0;
    for (size_t i = 0; i < _tracked.size();) {
        uint8_t level = _tracked[i].loudest(step);
        if (level > _threshold) {  // quiet for a whole window: no longer tracked
            _tracked[i] = _tracked.back();
            _tracked.pop_back();
            continue;
        }
        uint32_t id = _tracked[i].member;
        ++i;
        // Insertion into the 8 loudest so far (ties: lower id first): at most 8 moves.
        uint32_t at = count;
        while (at > 0 && (levels[at - 1] > level || (levels[at - 1] == level && ids[at - 1] > id)))
            --at;
        if (at >= members_max) continue;
        for (uint32_t k = std::min(count, members_max - 1); k > at; --k) {
            ids[k] = ids[k - 1];
            levels[k] = levels[k - 1];
        }
        ids[at] = id;
        levels[at] = level;
        if (count < members_max) ++count;
    }
    bool same = count == _announced_count;
    for (uint32_t i = 0; same && i < count; ++i)
        same = std::find(_announced.begin(), _announced.begin() + _announced_count, ids[i]) !=
               _announced.begin() + _announced_count;
    if (same) return false;
    if (_ever_announced && now_ms < _announced_ms + interval_ms) return false;  // coalesced
    _announced = ids;
    _announced_count = count;
    _announced_ms = now_ms;
    _ever_announced = true;
    return true;
}

std::string speaking_set::json() const {
    std::string out = "{\"type\":\"speaking\",\"members\":[";
    for (uint32_t i = 0; i < _announced_count; ++i) {
        if (i) out += ',';
        out += std::to_string(_announced[i]);
    }
    out += "]}";
    return out;
}

std::vector<uint32_t> speaking_set::members() const {
    return {_announced.begin(), _announced.begin() + _announced_count};
}

}  // namespace chorus::core
