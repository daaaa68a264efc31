// A shard's seats in the cluster (PROTOCOL.md v1.1): a seat or hand change is worked out here
// from the seats this node has applied and committed in Redis by a compare-and-set script, so
// that two nodes can never both fill one seat; a refused commit comes back with Redis's seats and
// is worked out again. Degraded (Redis unreachable), changes apply among the members here.
#include "core/cluster/cluster_sync.h"
#include "core/limits.h"

namespace chorus::core::cluster {

void cluster_sync::local_seats(room& r, member& by, const seat_request& request) {
    seat_outcome outcome = r.seats().apply(request);
    if (outcome.error != seat_error::none) {
        if (by.connection)
            _writer.send_error(*by.connection, seat_error_code(outcome.error),
                               seat_error_text(outcome.error));
        return;
    }
    if (outcome.seats_changed)
        local_event(r, seats_event_before, seats_event_after(r.seats(), by.id));
    if (outcome.hand_changed)
        local_event(r, hand_event_before,
                    hand_event_after(by.id, request.member, r.seats().hand_raised(request.member)));
}

std::string cluster_sync::new_room_seats() const {
    seat_state fresh;
    seat_request open;
    open.what = seat_request::kind::count;
    open.count = _context.config.default_seats;
    (void)fresh.apply(open);
    return fresh.encode_seats();
}

void cluster_sync::seat_error_to(room& r, uint32_t member_id, std::string_view code,
                                 std::string_view text) {
    member* m = r.find(member_id);
    if (m && m->node == 0 && m->connection) _writer.send_error(*m->connection, code, text);
}

// The errors are judged on `from`; a change is committed only if Redis still has `from`, so two
// nodes that both saw a seat free cannot both fill it.
void cluster_sync::commit_seats(room& r, uint32_t by, const seat_request& request,
                                const seat_state& from, uint32_t tries) {
    seat_state next = from;
    seat_outcome outcome = next.apply(request);
    if (outcome.error != seat_error::none)
        return seat_error_to(r, by, seat_error_code(outcome.error), seat_error_text(outcome.error));
    if (!outcome.seats_changed && !outcome.hand_changed) return;
    pending_op op;
    op.kind = op_kind::seats;
    op.by = by;
    op.seat = request;
    op.tries = tries;
    std::string must_exist = std::to_string(by);
    if (request.member != by) must_exist += "," + std::to_string(request.member);
    std::vector<std::string> args = {
        from.encode_seats(),
        from.encode_hands(),
        outcome.seats_changed ? "=" + next.encode_seats() : "",
        outcome.hand_changed ? "=" + next.encode_hands() : "",
        std::move(must_exist),
        std::to_string(by),
        std::string(seats_event_before),
        seats_event_after(next, by),
        std::to_string(request.member),
        std::string(hand_event_before),
        hand_event_after(by, request.member, next.hand_raised(request.member))};
    run_room_script(r, room_script::seats, std::move(args), std::move(op));
}

void cluster_sync::on_seats_reply(pending_op& op, room& r, cluster_event& e) {
    const reply_value& v = e.value;
    if (!e.ok || v.type != reply_value::kind::array || v.items.empty()) return;
    std::string_view status = v.items[0].text;
    if (status == "gone") {  // the member to seat or lower left meanwhile
        if (op.seat.member != op.by)
            seat_error_to(r, op.by, "no_such_member", "no member with that id in this room");
        return;
    }
    if (status != "stale" || v.items.size() != 3) return;  // ok: the event is on its way
    // Another change came first: work the request out again on what Redis has now.
    seat_state current;
    if (!current.decode_seats(v.items[1].text) || !current.decode_hands(v.items[2].text)) return;
    if (op.tries + 1 >= seat_commit_tries_max) {
        seat_error_to(r, op.by, "too_fast", "the seats are changing too fast; try again");
        return;
    }
    _hub.counters.seat_retries.fetch_add(1, std::memory_order_relaxed);
    commit_seats(r, op.by, op.seat, current, op.tries + 1);
}

}  // namespace chorus::core::cluster
