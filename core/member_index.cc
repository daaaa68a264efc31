// member_index: linear probing over a power-of-two table of member pointers.
#include "core/member_index.h"

#include "core/base/assert.h"
#include "core/room.h"

namespace chorus::core {

// Member ids are handed out in sequence, so a multiplicative hash spreads them over the table.
size_t member_index::home(uint32_t id) const {
    return static_cast<size_t>((uint64_t{id} * 0x9E3779B97F4A7C15ull) >> 32) & (_capacity - 1);
}

member* member_index::find(uint32_t id) const {
    if (_size == 0) return nullptr;
    for (size_t i = home(id);; i = (i + 1) & (_capacity - 1)) {
        member* m = _slots[i];
        if (!m) return nullptr;  // the table is never full: an empty slot ends every probe
        if (m->id == id) return m;
    }
}

void member_index::insert(member* m) {
    CHORUS_ASSERT(m != nullptr);
    if ((_size + 1) * 8 > _capacity * 7) rehash(_capacity ? _capacity * 2 : 8);
    size_t i = home(m->id);
    while (_slots[i]) {
        CHORUS_ASSERT(_slots[i]->id != m->id);
        i = (i + 1) & (_capacity - 1);
    }
    _slots[i] = m;
    ++_size;
}

bool member_index::erase(uint32_t id) {
    if (_size == 0) return false;
    size_t i = home(id);
    while (_slots[i] && _slots[i]->id != id) i = (i + 1) & (_capacity - 1);
    if (!_slots[i]) return false;
    // Backward shift: pull later members of the probe run into the hole, so that no lookup
    // meets an empty slot before the member it looks for.
    size_t hole = i;
    for (size_t j = (i + 1) & (_capacity - 1); _slots[j]; j = (j + 1) & (_capacity - 1)) {
        size_t want = home(_slots[j]->id);
        // Movable when its home is not in (hole, j], cyclically.
        bool in_range = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
        if (in_range) continue;
        _slots[hole] = _slots[j];
        hole = j;
    }
    _slots[hole] = nullptr;
    --_size;
    if (_size == 0) {  // an ended room's table goes with it; a refilled one starts small
        _slots.reset();
        _capacity = 0;
    }
    return true;
}

void member_index::rehash(size_t capacity) {
    std::unique_ptr<member*[]> old = std::move(_slots);
    size_t old_capacity = _capacity;
    _slots = std::make_unique<member*[]>(capacity);  // value-initialized: all empty
    _capacity = capacity;
    _size = 0;
    for (size_t i = 0; i < old_capacity; ++i)
        if (old[i]) insert(old[i]);
}

}  // namespace chorus::core
