// The cluster's side of the room_sync seam: what a shard asks of it (join, leave, kick, events,
// audio, whispers, the end of a pass), rooms opening and ending on this node, and the provider
// that main wires in: the engine's thread and the rings between it and the shards.
#include <chrono>
#include <cstdio>

#include "core/cluster/cluster_sync.h"
#include "core/limits.h"
#include "core/local_sync.h"
#include "core/metrics.h"

namespace chorus::core::cluster {

cluster_sync::cluster_sync(const sync_context& context, cluster_engine& engine, cluster_hub& hub)
    : _context(context), _writer(context.writer), _engine(engine), _hub(hub) {
    _nodes.push_back({_engine.instance(), 0, false});
    _link_up.assign(_engine.server_count(), false);
    _epochs.assign(_engine.server_count(), 0);
}

cluster_sync::~cluster_sync() {
    _hub.to_shard[_context.shard]->consume(
        [](const cluster_record& record) { delete static_cast<cluster_event*>(record.item); },
        cluster_ring_records);
    for (cluster_request* request : _cluster_backlog) delete request;
}

void cluster_sync::join(session& s, join_request&& request) {
    auto op_for = [](join_request& request) {
        pending_op op;
        op.user = std::move(request.user);
        op.name = std::move(request.name);
        op.speak = request.speak;
        op.admin = request.admin;
        op.chorus_v1 = request.chorus_v1;
        op.member = request.resume_member;
        op.resume_session = request.resume_session;
        op.last_seq = request.last_seq;
        op.has_last_seq = request.has_last_seq;
        op.resume_failed = request.resume_asked;  // used only if it ends as a join
        return op;
    };
    if (request.resume) {
        room* existing = _context.rooms.find(request.room);
        if (link_up(request.room) || !existing) {
            cluster_resume(s, request.room, op_for(request));
            return;
        }
        // Degraded: a member held here resumes here, as on a single node.
        if (local_rules::resume_here(_context, s, *existing, request)) return;
        // The grace has run out: an ordinary join follows.
    }
    if (!link_up(request.room)) {
        _context.host.refuse(s, 503, "overloaded",
                             "the cluster engine is unreachable; try again shortly");
        return;
    }
    std::string room_id = request.room;
    cluster_join(s, open_room(room_id), op_for(request));
}

// The member leaves the room for good; its `left` comes back through the room's channel.
void cluster_sync::leave(member& m, std::string_view reason) {
    m.home->detach(m);
    m.home->stay(m);
    cluster_leave(m, reason);
}

void cluster_sync::kick(member& target) {
    cluster_leave(target, "kicked");  // its node closes it (4001) on the `left`
}

// The flags change when the event comes back, on every node.
void cluster_sync::post_event(room& r, room_event&& event) {
    bool mute = event.kind == 'm';
    cluster_room_event(r, event.kind, event.member, mute ? (event.muted ? "1" : "0") : "",
                       mute ? std::to_string(event.by) : "", std::move(event.before),
                       std::move(event.after), mute ? event.member : 0);
}

// A seat change is committed in Redis (compare and set) and comes back through the room's
// channel, like every room event; degraded, it is applied among the members here.
void cluster_sync::change_seats(room& r, member& by, const seat_request& request) {
    if (!link_up(r.id())) return local_seats(r, by, request);
    commit_seats(r, by.id, request, r.seats(), 0);
}

void cluster_sync::publish_audio(room& r, const shared_frame* frame, uint32_t from, uint8_t level) {
    cluster_publish_audio(r, frame, from, level);
}

bool cluster_sync::route_whisper(room& r, member& target, const shared_frame* frame, char type) {
    return cluster_whisper(r, target, frame, type);
}

void cluster_sync::poll() {
    drain_cluster_ring();
}

void cluster_sync::end_pass() {
    cluster_flush();
}

room& cluster_sync::open_room(std::string_view room_id) {
    bool created = false;
    room& r = _context.rooms.open(room_id, &created);
    if (created) {
        r.extension = std::make_unique<cluster_room>();
        auto* request = new cluster_request;
        request->op = cluster_op::follow;
        request->room = room_id;
        cluster_post(request);
    }
    return r;
}

// Members of other nodes do not keep the room here; ours and our requests do.
void cluster_sync::maybe_end_room(room& r) {
    if (r.local_members() != 0 || state(r).pending != 0 || !state(r).welcomes.empty()) return;
    auto* request = new cluster_request;
    request->op = cluster_op::unfollow;
    request->room = r.id();
    cluster_post(request);
    _context.rooms.end(r);  // members of other nodes waiting out a grace go with it
}

cluster_sync_provider::cluster_sync_provider(std::unique_ptr<cluster_engine> engine)
    : _engine(std::move(engine)) {}

cluster_sync_provider::~cluster_sync_provider() = default;

void cluster_sync_provider::prepare(uint32_t shards, std::function<void(uint32_t)> wake_shard) {
    _shards = shards;
    for (uint32_t i = 0; i < shards; ++i) {
        _hub.to_engine.push_back(std::make_unique<cluster_ring>());
        _hub.to_shard.push_back(std::make_unique<cluster_ring>());
    }
    _hub.wake_shard = std::move(wake_shard);
}

std::unique_ptr<room_sync> cluster_sync_provider::open(const sync_context& context) {
    return std::make_unique<cluster_sync>(context, *_engine, _hub);
}

// Starts the engine and waits until its first connection attempt to every Redis server has
// finished and the shards' rings hold what it found: joins must not be refused for a link that
// is merely not connected yet. A Redis that is down at start fails that attempt at once (one
// that does not answer, within the engine's connection set-up limit): the node serves degraded.
bool cluster_sync_provider::start(std::string* error) {
    if (!_engine->start(_hub, _shards, error)) {
        *error = "cluster: " + *error;
        return false;
    }
    // The engine's own set-up limit (5 s) ends every first attempt well before this one.
    if (!_hub.wait_settled(std::chrono::milliseconds(start_step_ms_max)))
        std::fprintf(stderr, "chorusd: cluster: the engine's first Redis attempts did not end\n");
    if (!_hub.up.load())
        std::fprintf(stderr, "chorusd: cluster: Redis unreachable; serving degraded\n");
    return true;
}

void cluster_sync_provider::stop() {
    _engine->stop();  // leaves the cluster: others stop counting on this node
}

// Joins are served once every Redis server is reachable and every shard knows it.
bool cluster_sync_provider::healthy() const {
    return cluster_ready(_hub, _shards);
}

// The engine's gauges and counters.
void cluster_sync_provider::append_metrics(std::string& out) const {
    const cluster_counters& c = _hub.counters;
    append_metric_line(out, "chorus_cluster_up", "gauge",
                       "1 while every Redis server is reachable.",
                       _hub.up.load(std::memory_order_relaxed) ? 1 : 0);
    append_metric_line(out, "chorus_cluster_publishes_total", "counter",
                       "Messages published to Redis (room audio, whispers).", c.publishes.load());
    append_metric_line(out, "chorus_cluster_scripts_total", "counter",
                       "Room scripts run in Redis (joins, resumes, leaves, events).",
                       c.scripts.load());
    append_metric_line(out, "chorus_cluster_messages_in_total", "counter",
                       "Messages received from Redis channels.", c.messages_in.load());
    append_metric_line(out, "chorus_cluster_reconnects_total", "counter",
                       "Times a Redis server came back after being unreachable.",
                       c.reconnects.load());
    append_metric_line(out, "chorus_cluster_dropped_total", "counter",
                       "Cluster messages dropped (Redis unreachable or its buffer full).",
                       c.dropped.load());
    append_metric_line(out, "chorus_cluster_seat_retries_total", "counter",
                       "Seat changes another change beat to Redis, worked out again.",
                       c.seat_retries.load());
}

std::string cluster_sync_provider::describe() const {
    return ", node " + _engine->instance();
}

}  // namespace chorus::core::cluster
