// The members of a room by id: an open-addressing hash table of member pointers (linear probing,
// deletion by backward shift, power-of-two capacity up to 7/8 full). Every room member has a slot,
// so it costs 9 to 18 bytes a member where a std::unordered_map node and bucket cost about 36.
// The table does not own the members (the room does) and iterates in slot order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace chorus::core {

struct member;

class member_index {
  public:
    member_index() = default;
    member_index(const member_index&) = delete;
    member_index& operator=(const member_index&) = delete;

    member* find(uint32_t id) const;
    // Adds `m`, whose id must not be in the table.
    void insert(member* m);
    // Removes the member with this id; false when there is none.
    bool erase(uint32_t id);
    size_t size() const { return _size; }
    bool empty() const { return _size == 0; }

    // Visits the members (in slot order: no order to rely on).
    class iterator {
      public:
        iterator(member* const* slot, member* const* end) : _slot(slot), _end(end) { skip(); }
        member* operator*() const { return *_slot; }
        iterator& operator++() {
            ++_slot;
            skip();
            return *this;
        }
        bool operator==(const iterator& other) const { return _slot == other._slot; }

      private:
        void skip() {
            while (_slot != _end && *_slot == nullptr) ++_slot;
        }
        member* const* _slot;
        member* const* _end;
    };
    iterator begin() const { return {_slots.get(), _slots.get() + _capacity}; }
    iterator end() const { return {_slots.get() + _capacity, _slots.get() + _capacity}; }

  private:
    size_t home(uint32_t id) const;
    void rehash(size_t capacity);

    std::unique_ptr<member*[]> _slots;  // nullptr: empty
    size_t _capacity = 0;               // 0 or a power of two
    size_t _size = 0;
};

}  // namespace chorus::core
