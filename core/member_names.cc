// The shared names block: one allocation holding the reference count, both lengths and both
// strings, freed with its last reference.
#include "core/member_names.h"

#include <cstring>
#include <new>

#include "core/base/assert.h"

namespace chorus::core {

member_names::member_names(std::string_view user, std::string_view name) {
    CHORUS_ASSERT(user.size() <= UINT8_MAX);
    CHORUS_ASSERT(name.size() <= UINT8_MAX);
    void* memory = ::operator new(sizeof(block) + user.size() + name.size());
    _block =
        new (memory) block{1, static_cast<uint8_t>(user.size()), static_cast<uint8_t>(name.size())};
    if (!user.empty()) std::memcpy(_block->text(), user.data(), user.size());
    if (!name.empty()) std::memcpy(_block->text() + user.size(), name.data(), name.size());
}

member_names& member_names::operator=(const member_names& other) noexcept {
    if (this != &other) {
        block* previous = _block;
        _block = other._block;
        retain();
        member_names::from_raw(previous);  // the temporary releases the old reference
    }
    return *this;
}

member_names& member_names::operator=(member_names&& other) noexcept {
    if (this != &other) {
        release();
        _block = other._block;
        other._block = nullptr;
    }
    return *this;
}

std::string_view member_names::user() const {
    if (!_block) return {};
    return {_block->text(), _block->user_bytes};
}

std::string_view member_names::name() const {
    if (!_block) return {};
    return {_block->text() + _block->user_bytes, _block->name_bytes};
}

void member_names::release() {
    if (!_block) return;
    CHORUS_ASSERT(_block->refs > 0);
    if (--_block->refs == 0) {
        _block->~block();
        ::operator delete(_block);
    }
    _block = nullptr;
}

}  // namespace chorus::core
