// Room events in a cluster (docs/CLUSTER.md): an event goes to Redis as a script, and comes back
// through the room's channel to every node. Its reply failing (Redis unreachable, a partition
// beginning) leaves its outcome unknown: the node delivers it to its own members at once, and the
// op id the event carries lets the node drop Redis's copy if the script ran after all.
#include <charconv>

#include "core/cluster/cluster_sync.h"

namespace chorus::core::cluster {

void cluster_sync::cluster_room_event(room& r, char kind, uint32_t member, std::string a1,
                                      std::string a2, std::string before, std::string after,
                                      uint32_t mute_target) {
    pending_op op;
    op.kind = op_kind::event;
    op.event_kind = kind;
    op.member = member;
    op.muted = a1 == "1";
    op.before = before;
    op.after = after;
    if (kind == 'm') std::from_chars(a2.data(), a2.data() + a2.size(), op.by);
    op.op_id = next_op_id();
    if (!link_up(r.id())) {
        cluster_event failed;  // ok == false: delivered here only
        on_event_reply(op, r, failed);
        return;
    }
    std::string flag = !op.muted ? "0" : op.by != member ? "2" : "1";  // 2: an admin's mute
    std::vector<std::string> args = {std::string(1, kind),
                                     std::to_string(member),
                                     std::move(a1),
                                     std::move(a2),
                                     std::move(before),
                                     std::move(after),
                                     mute_target ? std::to_string(mute_target) : "",
                                     mute_target ? flag : "",
                                     op.op_id};
    run_room_script(r, room_script::event, std::move(args), std::move(op));
}

void cluster_sync::on_event_reply(pending_op& op, room& r, cluster_event& e) {
    if (e.ok) return;  // the event comes back through the room's channel
    // No reply: the script may or may not have run. Delivered here now unless the channel
    // brought it already; if it ran, its copy is dropped when it comes.
    if (!first_delivery(op.op_id, op.event_kind)) return;
    if (op.event_kind == 'm') {
        member* target = r.find(op.member);
        if (!target) return;
        room::set_muted(*target, op.muted, op.by);
    }
    local_event(r, op.before, op.after);
}

// Unique in the cluster: the node's instance, then this shard and its own counter (a room's
// events all come from its home shard, but two shards' ids must still never meet).
std::string cluster_sync::next_op_id() {
    return _nodes[0].instance + "." + std::to_string(_context.shard) + "." +
           std::to_string(++_op_ids);
}

bool cluster_sync::first_delivery(std::string_view op_id, char kind) {
    constexpr size_t remembered_max = 4096;  // far more than can fail in one cut
    const std::string& self = _nodes[0].instance;
    if (op_id.size() <= self.size() || !op_id.starts_with(self) || op_id[self.size()] != '.')
        return true;
    std::string key(op_id);
    key += kind;
    if (!_delivered.insert(key).second) return false;
    _delivered_order.push_back(std::move(key));
    if (_delivered_order.size() > remembered_max) {
        _delivered.erase(_delivered_order.front());
        _delivered_order.pop_front();
    }
    return true;
}

// Degraded mode: an event for the members on this node only, numbered after the last seq seen.
void cluster_sync::local_event(room& r, std::string_view before, std::string_view after) {
    uint64_t seq = r.ledger().current_seq() + 1;
    std::string json(before);
    json += std::to_string(seq);
    json += after;
    shared_frame* frame = _writer.text_frame(json);
    r.ledger().advance_to(seq);
    r.ledger().record(seq, frame);
    r.broadcast(frame, nullptr);
    _writer.pool().release(frame);
}

}  // namespace chorus::core::cluster
