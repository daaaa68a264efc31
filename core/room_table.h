// The rooms whose home is this shard, by id, and the shard's away list (members waiting out a
// resume grace). Opening a room gives it a ledger; ending one forgets it (its seq starts again
// at 1 next time). Rooms never end themselves: their room_sync decides when.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/room.h"

namespace chorus::core {

class room_table {
  public:
    using map = std::unordered_map<std::string, std::unique_ptr<room>>;
    room_table(session_writer& writer, ledger_factory& ledgers);
    ~room_table();

    room* find(std::string_view id);
    // The room `id`, opened if new (`*created` says which).
    room& open(std::string_view id, bool* created);
    void end(room& r);
    away_list& away() { return _away; }
    audio_clock& clock() { return _clock; }
    // Rooms whose audio window is over send what their members hold (--audio-batch).
    void release_audio(uint64_t now_ms) {
        _clock.release_due(now_ms, [](room& r) { r.release_audio(); });
    }
    const map& rooms() const { return _rooms; }
    // Every room's speaking set is worked out; changed ones are announced (PROTOCOL.md v1.1 §5).
    void poll_speaking(uint64_t now_ms);
    // {"room":..,"members":..} entries for /v1/rooms, comma-separated.
    std::string listing_json() const;

  private:
    session_writer& _writer;
    ledger_factory& _ledgers;
    away_list _away;     // before the rooms: a room leaves it as it goes
    audio_clock _clock;  // the same
    map _rooms;
};

}  // namespace chorus::core
