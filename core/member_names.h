// A member's user id and display name in one immutable, reference-counted block. The member and
// the `joined` event its room's history keeps for it (core/room_ledger.h) share the block, so
// each member's names are stored once, in about 16 bytes, instead of two 32-byte strings plus a
// copy in the history. Single-threaded, like everything a room owns.
#pragma once

#include <cstdint>
#include <string_view>

namespace chorus::core {

class member_names {
  public:
    member_names() = default;  // both empty
    // Copies both; each is at most 255 bytes (join requests allow 64).
    member_names(std::string_view user, std::string_view name);
    member_names(const member_names& other) noexcept : _block(other._block) { retain(); }
    member_names(member_names&& other) noexcept : _block(other._block) { other._block = nullptr; }
    member_names& operator=(const member_names& other) noexcept;
    member_names& operator=(member_names&& other) noexcept;
    ~member_names() { release(); }

    std::string_view user() const;
    std::string_view name() const;

    // For a holder that packs the reference into a raw pointer (the ledger's 24-byte entries):
    // into_raw gives this handle's reference away, from_raw takes one back over.
    const void* into_raw() && {
        const void* raw = _block;
        _block = nullptr;
        return raw;
    }
    static member_names from_raw(const void* raw) {
        member_names names;
        names._block = static_cast<block*>(const_cast<void*>(raw));
        return names;
    }
    // A new reference to the block of a raw holder, which keeps its own.
    static member_names share_raw(const void* raw) {
        member_names names = from_raw(raw);
        names.retain();
        return names;
    }

  private:
    struct block {
        uint32_t refs;
        uint8_t user_bytes;
        uint8_t name_bytes;
        char* text() { return reinterpret_cast<char*>(this + 1); }
    };
    void retain() {
        if (_block) ++_block->refs;
    }
    void release();

    block* _block = nullptr;
};

static_assert(sizeof(member_names) == sizeof(void*), "a pointer in every member");

}  // namespace chorus::core
