// The shard's rooms by id.
#include "core/room_table.h"

namespace chorus::core {

room_table::room_table(session_writer& writer, ledger_factory& ledgers)
    : _writer(writer), _ledgers(ledgers), _clock(writer.config().audio_batch_ms) {}

room_table::~room_table() {
    _rooms.clear();
}

room* room_table::find(std::string_view id) {
    auto found = _rooms.find(std::string(id));
    return found == _rooms.end() ? nullptr : found->second.get();
}

room& room_table::open(std::string_view id, bool* created) {
    auto [it, fresh] = _rooms.try_emplace(std::string(id));
    *created = fresh;
    if (fresh) {
        it->second =
            std::make_unique<room>(id, _ledgers.open(id, _writer.pool()), _writer, _away, _clock);
        _writer.metrics().rooms.add();
    }
    return *it->second;
}

void room_table::end(room& r) {
    std::string id = r.id();  // r goes with its map entry
    _rooms.erase(id);         // its seq starts again at 1 next time
    uint64_t rooms = _writer.metrics().rooms.get();
    _writer.metrics().rooms.set(rooms ? rooms - 1 : 0);
}

void room_table::poll_speaking(uint64_t now_ms) {
    for (auto& [id, r] : _rooms) r->poll_speaking(now_ms);
}

std::string room_table::listing_json() const {
    std::string out;
    for (const auto& [id, r] : _rooms) {
        if (!out.empty()) out += ',';
        out += "{\"room\":\"";
        out += id;  // room ids are [A-Za-z0-9_.-]: nothing to escape
        out += "\",\"members\":" + std::to_string(r->members().size()) + "}";
    }
    return out;
}

}  // namespace chorus::core
