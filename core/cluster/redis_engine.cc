// The cluster engine's thread: a poll loop over the Redis sockets and an eventfd the shards ring.
// Each Redis server is either down (waiting out its back-off), connecting, or up (scripts loaded,
// id epoch known, subscriptions placed). Requests for a down server fail at once, so a shard
// never waits on Redis and nothing piles up while it is away.
#include "core/cluster/redis_engine_impl.h"

namespace chorus::core::cluster {
namespace detail {

std::string key(std::string_view room, std::string_view suffix) {
    std::string k = "chorus:{";
    k += room;
    k += "}:";
    k += suffix;
    return k;
}

// The room of a channel named chorus:{ROOM}:c, or empty.
std::string_view room_of(std::string_view channel) {
    constexpr std::string_view head = "chorus:{", tail = "}:c";
    if (channel.size() <= head.size() + tail.size() || !channel.starts_with(head) ||
        !channel.ends_with(tail))
        return {};
    return channel.substr(head.size(), channel.size() - head.size() - tail.size());
}

void copy_reply(const redisReply* in, reply_value* out) {
    switch (in->type) {
        case REDIS_REPLY_INTEGER:
            out->type = reply_value::kind::integer;
            out->integer = in->integer;
            break;
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            out->type = reply_value::kind::string;
            out->text.assign(in->str, in->len);
            break;
        case REDIS_REPLY_ERROR:
            out->type = reply_value::kind::error;
            out->text.assign(in->str, in->len);
            break;
        case REDIS_REPLY_ARRAY:
            out->type = reply_value::kind::array;
            out->items.resize(in->elements);
            for (size_t i = 0; i < in->elements; ++i) copy_reply(in->element[i], &out->items[i]);
            break;
        default:
            out->type = reply_value::kind::nil;
    }
}

std::string_view reply_text(const redisReply* r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
               ? std::string_view(r->str, r->len)
               : std::string_view{};
}

std::string refusal_text(const redisReply* r) {
    if (!r) return "no reply";
    if (r->type != REDIS_REPLY_ERROR) return "unexpected reply type " + std::to_string(r->type);
    std::string text(r->str, r->len);
    if (text.starts_with("WRONGPASS") || text.starts_with("NOAUTH") ||
        text.starts_with("ERR invalid password") || text.starts_with("ERR AUTH"))
        text += " - check the user and password of --redis or --redis-password-file";
    else if (text.starts_with("NOPERM"))
        text += " - the Redis user lacks a permission chorusd needs (docs/CLUSTER.md, ACL)";
    return text;
}

void redis_engine::run() {
    uint64_t now = base::monotonic_ms();
    for (auto& s : _servers) connect(*s, now);
    while (!_stopping.load()) {
        poll_once();
        take_requests();
        now = base::monotonic_ms();
        for (auto& s : _servers) {
            if (s->state == link::down && now >= s->next_attempt_ms) connect(*s, now);
            if (s->state == link::connecting && now >= s->next_attempt_ms)
                fail(*s, "no answer to the connection set-up");
            if (s->state == link::up) heartbeat(*s, now);
        }
        flush_to_shards();
        settle();
    }
    // Leave the cluster: the other nodes stop counting on us at their next heartbeat.
    uint64_t deadline = base::monotonic_ms() + 500;
    int outstanding = 0;
    for (auto& s : _servers) {
        if (s->state != link::up) continue;
        ++outstanding;
        s->cmd.command({"ZREM", "chorus:nodes", _instance},
                       [&outstanding](const redisReply*) { --outstanding; });
    }
    while (outstanding > 0 && base::monotonic_ms() < deadline) poll_once();
    take_requests();  // requests still queued get no answer: the shards are gone
}

// Once every server's first connection attempt has finished and what it told the shards is in
// their rings, the server may open its listeners: a join then finds each link as it really is
// (up, or down and refused as documented), never "not connected yet".
void redis_engine::settle() {
    if (_settled) return;
    for (auto& s : _servers)
        if (!s->attempted) return;
    for (auto& queue : _overflow)
        if (!queue.empty()) return;
    _settled = true;
    _hub->mark_settled();
}

void redis_engine::poll_once() {
    std::vector<pollfd> fds;
    fds.push_back({_event_fd, POLLIN, 0});
    std::vector<std::pair<server*, redis_conn*>> owners;
    for (auto& s : _servers) {
        for (redis_conn* c : {&s->cmd, &s->sub}) {
            if (!c->is_open()) continue;
            short events = POLLIN;
            if (c->wants_write()) events |= POLLOUT;
            fds.push_back({c->fd(), events, 0});
            owners.push_back({s.get(), c});
        }
    }
    bool backlog = false;
    for (auto& queue : _overflow) backlog |= !queue.empty();
    int timeout = backlog ? 1 : 50;
    if (_batches_held) {  // wake up when the held audio is due
        uint64_t now = base::monotonic_ms();
        timeout = std::min<int>(timeout, _next_batch_ms > now ? int(_next_batch_ms - now) : 0);
    }
    if (::poll(fds.data(), fds.size(), timeout) <= 0) return;
    if (fds[0].revents & POLLIN) {
        uint64_t value;
        ssize_t n = ::read(_event_fd, &value, sizeof(value));
        (void)n;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
        auto [s, c] = owners[i - 1];
        if (!c->is_open() || fds[i].revents == 0) continue;
        std::string why;
        bool ok = true;
        if (fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) ok = c->on_writable(&why);
        if (ok && (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) && c->is_open())
            ok = c->on_readable(&why);
        if (ok && !s->sub_error.empty()) {
            why = std::move(s->sub_error);
            ok = false;
        }
        if (!ok) fail(*s, why);
    }
}

void redis_engine::take_requests() {
    for (uint32_t i = 0; i < _shards; ++i) {
        _hub->to_engine[i]->consume(
            [&](const cluster_record& record) {
                handle(static_cast<cluster_request*>(record.item));
            },
            4096);
    }
    flush_batches_when_due(base::monotonic_ms());
}

// The held audio goes out once per audio_batch_ms (every pass when 0): one PUBLISH per peer
// node for all the frames of that time, whatever the load; a frame waits audio_batch_ms at most.
void redis_engine::flush_batches_when_due(uint64_t now) {
    if (!_batches_held) return;
    if (now < _next_batch_ms) return;
    for (auto& s : _servers) flush_batches(*s);
    _batches_held = false;
    _next_batch_ms = now + _config.audio_batch_ms;
}

void redis_engine::handle(cluster_request* request) {
    server& s = *_servers[server_for(request->room)];
    std::unique_ptr<cluster_request> owned(request);
    switch (request->op) {
        case cluster_op::follow: {
            follow& f = s.rooms[request->room];
            f.shard = request->shard;
            f.confirmed = false;
            if (s.state != link::down) subscribe(s, key(request->room, "c"));
            return;
        }
        case cluster_op::unfollow: {
            auto found = s.rooms.find(request->room);
            if (found == s.rooms.end()) return;
            for (cluster_request* waiting : found->second.waiting) reply(waiting, false, nullptr);
            s.rooms.erase(found);
            if (s.state != link::down) s.sub.command({"UNSUBSCRIBE", key(request->room, "c")}, {});
            return;
        }
        case cluster_op::script: {
            if (s.state != link::up || s.cmd.buffered_bytes() > command_buffer_max) {
                reply(owned.release(), false, nullptr);
                return;
            }
            follow& f = s.rooms[request->room];
            if (!f.confirmed) {
                f.waiting.push_back(owned.release());
                return;
            }
            run_script(s, owned.release());
            return;
        }
        case cluster_op::publish:
        case cluster_op::node_publish: {
            if (_stopping.load()) return;
            if (s.state != link::up || s.cmd.buffered_bytes() > publish_buffer_max) {
                _hub->counters.dropped.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            if (request->op == cluster_op::publish) {
                batch_audio(s, *request);
                return;
            }
            // The target's channel exists on every server: use the room's. The audio batched
            // before this whisper goes first, so one sender's order holds across both.
            flush_batches(s);
            s.cmd.command({"PUBLISH", "chorus:node:" + request->target, request->payload}, {});
            _hub->counters.publishes.fetch_add(1, std::memory_order_relaxed);
            return;
        }
    }
}

// Room audio for the peer nodes named in the request's args: appended to this pass's batch for
// each of them (a room's frames always go through the room's server, so their order holds).
void redis_engine::batch_audio(server& s, const cluster_request& request) {
    for (const std::string& target : request.args) {
        if (target.empty() || target == _instance) continue;
        std::string& batch = s.batches[target];
        if (batch.empty()) begin_audio_batch(batch, _instance);
        append_audio_batch(batch, {request.room, request.level, request.from, request.payload});
        _batches_held = true;
        _hub->counters.batched_frames.fetch_add(1, std::memory_order_relaxed);
        if (batch.size() >= audio_batch_bytes_max) send_batch(s, target, batch);
    }
}

void redis_engine::send_batch(server& s, const std::string& target, std::string& batch) {
    if (audio_batch_empty(batch, _instance)) return;
    s.cmd.command({"PUBLISH", "chorus:node:" + target, batch}, {});
    _hub->counters.publishes.fetch_add(1, std::memory_order_relaxed);
    begin_audio_batch(batch, _instance);
}

// Sends every batch of `s`; a peer that got nothing this pass loses its (idle) buffer, so the
// map holds only the nodes audio is flowing to.
void redis_engine::flush_batches(server& s) {
    for (auto it = s.batches.begin(); it != s.batches.end();) {
        if (audio_batch_empty(it->second, _instance)) {
            it = s.batches.erase(it);
            continue;
        }
        send_batch(s, it->first, it->second);
        ++it;
    }
}

void redis_engine::run_script(server& s, cluster_request* request) {
    flush_batches(s);  // audio sent before this event stays before it
    std::vector<std::string_view> argv;
    std::string keys[4] = {key(request->room, "m"), key(request->room, "u"),
                           key(request->room, "meta"), key(request->room, "x")};
    std::string channel = key(request->room, "c");
    std::string history = std::to_string(_config.history);
    argv.reserve(8 + request->args.size());
    argv.push_back("EVALSHA");
    argv.push_back(s.sha[static_cast<int>(request->script)]);
    argv.push_back("4");
    for (const std::string& k : keys) argv.push_back(k);
    argv.push_back(channel);
    argv.push_back(history);
    for (const std::string& a : request->args) argv.push_back(a);
    _hub->counters.scripts.fetch_add(1, std::memory_order_relaxed);
    // Kept (owned) for the rare NOSCRIPT retry: the views above die with this call.
    std::vector<std::string> owned(argv.begin(), argv.end());
    s.cmd.command(argv, [this, &s, request, owned = std::move(owned)](const redisReply* r) {
        if (r && r->type == REDIS_REPLY_ERROR &&
            std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
            // Redis forgot the scripts (SCRIPT FLUSH, a failover behind a proxy): send the text
            // once; EVAL caches it again under the same SHA.
            std::vector<std::string> copy = owned;
            copy[0] = "EVAL";
            copy[1] = std::string(room_script_text(request->script));
            std::vector<std::string_view> again(copy.begin(), copy.end());
            s.cmd.command(again, [this, request](const redisReply* retry) {
                bool ok = retry && retry->type != REDIS_REPLY_ERROR;
                reply(request, ok, retry);
            });
            return;
        }
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r && r->type == REDIS_REPLY_ERROR)
            std::fprintf(stderr, "chorusd: cluster: room script failed: %.*s\n",
                         static_cast<int>(r->len), r->str);
        reply(request, ok, r);
    });
}

void redis_engine::reply(cluster_request* request, bool ok, const redisReply* value) {
    std::unique_ptr<cluster_request> owned(request);
    if (request->tag == 0) return;
    auto* event = new cluster_event;
    event->kind = cluster_event_kind::reply;
    event->ok = ok;
    event->tag = request->tag;
    event->room = std::move(request->room);
    if (ok && value) copy_reply(value, &event->value);
    deliver(request->shard, event);
}

void redis_engine::deliver(uint32_t shard, cluster_event* event) {
    std::deque<cluster_event*>& queue = _overflow[shard];
    if (queue.empty() && _hub->to_shard[shard]->try_push({event})) {
        _wake_shard[shard] = true;
        return;
    }
    // Past the cap only audio is dropped (a room event lost would cost a resync).
    bool audio =
        event->kind == cluster_event_kind::audio_batch ||
        (event->kind == cluster_event_kind::node_message && event->payload.starts_with("V|"));
    if (queue.size() >= shard_overflow_max && audio) {
        _hub->counters.dropped.fetch_add(1, std::memory_order_relaxed);
        delete event;
        return;
    }
    queue.push_back(event);
}

void redis_engine::flush_to_shards() {
    for (uint32_t i = 0; i < _shards; ++i) {
        std::deque<cluster_event*>& queue = _overflow[i];
        while (!queue.empty() && _hub->to_shard[i]->try_push({queue.front()})) {
            queue.pop_front();
            _wake_shard[i] = true;
        }
        if (_wake_shard[i]) {
            _wake_shard[i] = false;
            _hub->wake_shard(i);
        }
    }
}

}  // namespace detail

std::unique_ptr<cluster_engine> make_redis_engine(const engine_config& config) {
    return std::make_unique<detail::redis_engine>(config);
}

}  // namespace chorus::core::cluster
