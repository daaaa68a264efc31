// The cluster engine's links to Redis: connect (load the scripts, learn the id epoch, subscribe),
// fail with back-off, heartbeats and the live-node list, and the subscriber connection's
// messages, routed to each room's home shard.
#include "core/cluster/redis_engine_impl.h"

namespace chorus::core::cluster::detail {

void redis_engine::connect(server& s, uint64_t now) {
    std::string why;
    if (!s.cmd.open(s.address, &why) || !s.sub.open(s.address, &why)) {
        fail(s, why);
        return;
    }
    s.state = link::connecting;
    s.next_attempt_ms = now + 5000;  // the whole set-up must answer within this
    s.sub.on_push = [this, &s](const redisReply* r) { on_push(s, r); };
    s.acks_due.clear();
    s.sub_error.clear();
    if (s.address.has_credentials()) {
        // First on both connections; everything after it is pipelined behind it, and fails
        // with the connection when Redis refuses.
        std::vector<std::string_view> auth = {"AUTH"};
        if (!s.address.user.empty()) auth.push_back(s.address.user);
        auth.push_back(s.address.password);
        s.cmd.command(auth, [this, &s](const redisReply* r) {
            if (r && r->type == REDIS_REPLY_ERROR) fail(s, refusal_text(r));
        });
        s.sub.command(auth, {});  // its answer comes to on_push
    }
    for (int i = 0; i < script_count; ++i) {
        std::string_view text = room_script_text(static_cast<room_script>(i));
        s.cmd.command({"SCRIPT", "LOAD", text}, [this, &s, i](const redisReply* r) {
            if (r && r->type == REDIS_REPLY_STRING) s.sha[i].assign(r->str, r->len);
            if (r && r->type == REDIS_REPLY_ERROR) fail(s, "SCRIPT LOAD: " + refusal_text(r));
        });
    }
    std::string known = s.epoch < 0 ? std::string() : std::to_string(s.epoch);
    s.cmd.command({"EVAL", epoch_script_text(), "0", known}, [this, &s](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            if (r) fail(s, "epoch script: " + refusal_text(r));
            return;
        }
        for (const std::string& sha : s.sha)
            if (sha.empty()) return fail(s, "SCRIPT LOAD failed");
        if (s.epoch >= 0 && s.epoch != r->integer)
            std::fprintf(stderr,
                         "chorusd: cluster: redis %s lost its data (id epoch %lld -> %lld); "
                         "re-registering members\n",
                         s.name.c_str(), static_cast<long long>(s.epoch),
                         static_cast<long long>(r->integer));
        s.epoch = r->integer;
        became_up(s);
    });
    subscribe(s, "chorus:node:" + _instance);
    for (auto& [room, f] : s.rooms) {
        f.confirmed = false;
        subscribe(s, key(room, "c"));
    }
}

void redis_engine::subscribe(server& s, const std::string& channel) {
    ++s.acks_due[channel];
    s.sub.command({"SUBSCRIBE", channel}, {});
}

void redis_engine::became_up(server& s) {
    if (s.state == link::up) return;
    if (s.ever_up) _hub->counters.reconnects.fetch_add(1, std::memory_order_relaxed);
    s.state = link::up;
    s.ever_up = true;
    s.attempted = true;
    s.said_down = false;
    s.failed_attempts = 0;
    s.backoff_ms = backoff_first_ms;
    s.next_heartbeat_ms = 0;
    s.heartbeat_sent_ms = 0;
    std::fprintf(stderr, "chorusd: cluster: redis %s up (instance %s)\n", s.name.c_str(),
                 _instance.c_str());
    std::fflush(stderr);
    uint32_t index = 0;
    while (_servers[index].get() != &s) ++index;
    for (uint32_t shard = 0; shard < _shards; ++shard) {
        auto* event = new cluster_event;
        event->kind = cluster_event_kind::link;
        event->ok = true;
        event->server = index;
        event->epoch = static_cast<uint64_t>(s.epoch);
        deliver(shard, event);
    }
    heartbeat(s, base::monotonic_ms());
    update_up();
}

void redis_engine::fail(server& s, const std::string& why) {
    bool was_up = s.state == link::up;
    s.state = link::down;
    s.attempted = true;
    uint64_t now = base::monotonic_ms();
    s.next_attempt_ms = now + s.backoff_ms;
    s.backoff_ms = std::min(s.backoff_ms * 2, backoff_max_ms);
    ++s.failed_attempts;
    // Said once when it goes down, again when the reason changes (a wrong password after a
    // restart of Redis), and every still_down_log_ms while it stays: never a silent retry loop.
    if (!s.said_down || why != s.last_reason || now - s.last_said_ms >= still_down_log_ms) {
        if (!s.said_down) {
            std::fprintf(stderr, "chorusd: cluster: redis %s down (%s); retrying with back-off\n",
                         s.name.c_str(), why.c_str());
        } else {
            std::fprintf(stderr, "chorusd: cluster: redis %s still down (%s; %llu attempts)\n",
                         s.name.c_str(), why.c_str(),
                         static_cast<unsigned long long>(s.failed_attempts));
        }
        std::fflush(stderr);
        s.said_down = true;
        s.last_reason = why;
        s.last_said_ms = now;
    }
    s.sub_error.clear();
    for (auto& [room, f] : s.rooms) {
        f.confirmed = false;
        std::vector<cluster_request*> waiting;
        waiting.swap(f.waiting);
        for (cluster_request* request : waiting) reply(request, false, nullptr);
    }
    s.live.clear();
    s.batches.clear();  // audio that cannot go now is dropped, as when Redis is down
    s.heartbeat_sent_ms = 0;
    // Closing runs the pending callbacks with nullptr: their requests are answered "failed".
    s.sub.on_push = nullptr;
    s.sub.close();
    s.cmd.close();
    if (was_up) {
        uint32_t index = 0;
        while (_servers[index].get() != &s) ++index;
        for (uint32_t shard = 0; shard < _shards; ++shard) {
            auto* event = new cluster_event;
            event->kind = cluster_event_kind::link;
            event->ok = false;
            event->server = index;
            deliver(shard, event);
        }
    }
    update_up();
}

void redis_engine::update_up() {
    bool all = true;
    for (auto& s : _servers) all &= s->state == link::up;
    _hub->up.store(all, std::memory_order_relaxed);
}

void redis_engine::heartbeat(server& s, uint64_t now) {
    if (s.heartbeat_sent_ms != 0) {
        // A Redis that stops answering (paused, partitioned) counts as down.
        if (now - s.heartbeat_sent_ms > std::max<uint64_t>(_config.node_timeout_ms, 2000))
            fail(s, "no answer to the heartbeat");
        return;
    }
    if (now < s.next_heartbeat_ms) return;
    s.next_heartbeat_ms = now + _config.heartbeat_ms;
    s.heartbeat_sent_ms = now;
    std::string timeout = std::to_string(_config.node_timeout_ms);
    s.cmd.command({"EVAL", heartbeat_script_text(), "0", _instance, timeout},
                  [this, &s](const redisReply* r) {
                      s.heartbeat_sent_ms = 0;
                      if (!r || r->type != REDIS_REPLY_ARRAY) return;
                      s.live.clear();
                      for (size_t i = 0; i < r->elements; ++i)
                          s.live.emplace_back(reply_text(r->element[i]));
                      publish_live();
                  });
}

// The union of the live instances every reachable server reports, to every shard.
void redis_engine::publish_live() {
    std::set<std::string> live;
    for (auto& s : _servers) live.insert(s->live.begin(), s->live.end());
    for (uint32_t shard = 0; shard < _shards; ++shard) {
        auto* event = new cluster_event;
        event->kind = cluster_event_kind::nodes;
        event->live.assign(live.begin(), live.end());
        deliver(shard, event);
    }
}

void redis_engine::on_push(server& s, const redisReply* r) {
    if (r && r->type == REDIS_REPLY_ERROR) {
        // AUTH refused, or a SUBSCRIBE the user may not make: poll_once fails the link once
        // this read is over (not from inside the connection's own callback).
        if (s.sub_error.empty()) s.sub_error = "subscriber connection: " + refusal_text(r);
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    std::string_view type = reply_text(r->element[0]);
    std::string_view channel = reply_text(r->element[1]);
    if (type == "subscribe") {
        auto due = s.acks_due.find(std::string(channel));
        if (due != s.acks_due.end() && --due->second == 0) {
            s.acks_due.erase(due);
            if (std::string_view room_view = room_of(channel); !room_view.empty()) {
                std::string room(room_view);
                auto found = s.rooms.find(room);
                if (found != s.rooms.end() && !found->second.confirmed) {
                    found->second.confirmed = true;
                    std::vector<cluster_request*> waiting;
                    waiting.swap(found->second.waiting);
                    for (cluster_request* request : waiting) {
                        if (s.state == link::up) {
                            run_script(s, request);
                        } else {
                            reply(request, false, nullptr);
                        }
                    }
                }
            }
        }
        return;
    }
    if (type != "message") return;
    _hub->counters.messages_in.fetch_add(1, std::memory_order_relaxed);
    std::string_view payload = reply_text(r->element[2]);
    if (payload.starts_with("B|") && channel.starts_with("chorus:node:")) {
        on_audio_batch(payload);
        return;
    }
    auto* event = new cluster_event;
    event->payload.assign(payload);
    if (channel.substr(0, 12) == "chorus:node:") {
        // W|room|...: route by the room inside.
        size_t start = payload.find('|');
        size_t end = start == std::string_view::npos ? start : payload.find('|', start + 1);
        if (end == std::string_view::npos) {
            delete event;
            return;
        }
        event->kind = cluster_event_kind::node_message;
        event->room.assign(payload.substr(start + 1, end - start - 1));
    } else if (std::string_view room = room_of(channel); !room.empty()) {
        event->kind = cluster_event_kind::room_message;
        event->room.assign(room);
    } else {
        delete event;
        return;
    }
    deliver(home_shard(event->room), event);
}

// A batch from another node: checked whole, then handed to each shard that is home to one of its
// rooms (each shard relays the rooms it holds, in the batch's order).
void redis_engine::on_audio_batch(std::string_view payload) {
    audio_batch batch;
    if (!parse_audio_batch(payload, &batch) || batch.instance == _instance) return;
    std::vector<bool> homes(_shards, false);
    std::string_view records = batch.records;
    audio_record record;
    while (next_audio_record(records, &record)) homes[home_shard(record.room)] = true;
    for (uint32_t shard = 0; shard < _shards; ++shard) {
        if (!homes[shard]) continue;
        auto* event = new cluster_event;
        event->kind = cluster_event_kind::audio_batch;
        event->payload.assign(payload);
        deliver(shard, event);
    }
}

}  // namespace chorus::core::cluster::detail
