// A single node's room rules (PROTOCOL.md §6): joins with replace and capacity, resume of a
// member held here, leaves with their `left` event, kicks, and events numbered by the room's own
// ledger. Nothing goes beyond this node. The rules a cluster falls back on when it cannot reach
// its shared state (admit, resume_here) are shared with it through `local_rules`.
#pragma once

#include "core/room_sync.h"

namespace chorus::core {

namespace local_rules {

// A random non-zero number bound into resume tokens (a new join or resume gets a new one).
uint64_t new_session_nonce();
std::string resume_token(const sync_context& context, const room& r, const member& m);
// Attaches `m` to `s` and welcomes it: the welcome, then (resumed) the missed events and held
// whispers, then (new) the `joined` event to everyone else. A new member that asked to resume
// gets "gap": true.
void admit(const sync_context& context, session& s, room& r, member& m, bool resumed,
           const join_request& request);
// A member held on this node with the token's session resumes here (an older connection of it
// is taken over, 4009). False when no such member is here.
bool resume_here(const sync_context& context, session& s, room& r, join_request& request);
// A member left (`left` already published): it stands up and lowers its hand, each with its
// event by the server (by 0), numbered by the room's ledger.
void release_seat(room& r, uint32_t member);
// The events of a seat request's outcome (seats, then a lowered hand), numbered by the ledger.
void publish_seat_outcome(room& r, const seat_request& request, const seat_outcome& outcome,
                          uint32_t by);

}  // namespace local_rules

class local_sync final : public room_sync {
  public:
    explicit local_sync(const sync_context& context) : _context(context) {}
    void join(session& s, join_request&& request) override;
    void leave(member& m, std::string_view reason) override;
    void kick(member& target) override;
    void post_event(room& r, room_event&& event) override;
    void change_seats(room& r, member& by, const seat_request& request) override;
    void publish_audio(room&, const shared_frame*, uint32_t, uint8_t) override {}
    bool route_whisper(room&, member&, const shared_frame*, char) override { return false; }
    void poll() override {}
    void end_pass() override {}

  private:
    void gone(member& m, std::string_view reason, bool end_room_if_empty);
    void maybe_end(room& r);

    sync_context _context;
};

class local_sync_provider final : public room_sync_provider {
  public:
    void prepare(uint32_t, std::function<void(uint32_t)>) override {}
    std::unique_ptr<room_sync> open(const sync_context& context) override {
        return std::make_unique<local_sync>(context);
    }
    bool start(std::string*) override { return true; }
    void stop() override {}
    bool healthy() const override { return true; }
    void append_metrics(std::string&) const override {}
    std::string describe() const override { return {}; }
};

}  // namespace chorus::core
