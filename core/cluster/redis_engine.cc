// The engine's thread: a poll loop over the Redis sockets and an eventfd the shards ring. Each
// Redis server is either down (waiting out its back-off), connecting, or up (scripts loaded, id
// epoch known, subscriptions placed). Requests for a down server fail at once, so a shard never
// waits on Redis and nothing piles up while it is away.
#include "core/cluster/redis_engine.h"

#include <openssl/rand.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/base/clock.h"
#include "core/cluster/scripts.h"

namespace chorus::core::cluster {

namespace {

constexpr size_t publish_buffer_max = 8u << 20;   // audio is dropped beyond this backlog
constexpr size_t command_buffer_max = 64u << 20;  // scripts fail beyond this backlog
constexpr size_t shard_overflow_max = 1u << 16;   // channel messages held for a full ring
constexpr uint64_t backoff_first_ms = 100;
constexpr uint64_t backoff_max_ms = 2000;
constexpr int script_count = 5;

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

class redis_engine final : public cluster_engine {
  public:
    explicit redis_engine(const engine_config& config) : _config(config) {
        unsigned char nonce[6];
        RAND_bytes(nonce, sizeof(nonce));
        char hex[13];
        for (int i = 0; i < 6; ++i) std::snprintf(hex + 2 * i, 3, "%02x", nonce[i]);
        _instance = config.node_id + "/" + hex;
        _own_audio_prefix = "A|" + _instance + "|";
        // Before any shard runs: shards call wake() from their threads.
        _event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        for (const redis_address& address : config.servers) {
            auto s = std::make_unique<server>();
            s->address = address;
            s->name = address.host + ":" + std::to_string(address.port);
            _servers.push_back(std::move(s));
        }
    }
    ~redis_engine() override {
        stop();
        if (_event_fd >= 0) ::close(_event_fd);
    }

    bool start(cluster_hub& hub, uint32_t shards, std::string* error) override {
        _hub = &hub;
        _shards = shards;
        _overflow.resize(shards);
        _wake_shard.assign(shards, false);
        if (_event_fd < 0) {
            *error = "eventfd failed";
            return false;
        }
        _thread = std::thread([this] { run(); });
        return true;
    }

    void stop() override {
        if (!_thread.joinable()) return;
        _stopping.store(true);
        wake();
        _thread.join();
        for (auto& s : _servers) {
            s->cmd.close();
            s->sub.close();
            for (auto& [room, f] : s->rooms)
                for (cluster_request* request : f.waiting) delete request;
            s->rooms.clear();
        }
        for (auto& queue : _overflow) {
            for (cluster_event* event : queue) delete event;
            queue.clear();
        }
    }

    void wake() override {
        uint64_t one = 1;
        ssize_t n = ::write(_event_fd, &one, sizeof(one));
        (void)n;
    }

    const std::string& instance() const override { return _instance; }
    uint32_t server_count() const override { return static_cast<uint32_t>(_servers.size()); }
    uint32_t server_for(std::string_view room) const override {
        return static_cast<uint32_t>(XXH3_64bits_withSeed(room.data(), room.size(), 0x63686f72) %
                                     _servers.size());
    }

  private:
    enum class link { down, connecting, up };
    struct follow {
        uint32_t shard = 0;
        bool confirmed = false;
        std::vector<cluster_request*> waiting;
    };
    struct server {
        redis_address address;
        std::string name;
        redis_conn cmd, sub;
        link state = link::down;
        bool ever_up = false;
        bool said_down = false;
        uint64_t next_attempt_ms = 0;
        uint64_t backoff_ms = backoff_first_ms;
        std::string sha[script_count];
        int64_t epoch = -1;  // -1: never learned
        std::unordered_map<std::string, follow> rooms;
        std::unordered_map<std::string, uint32_t> acks_due;  // channel -> SUBSCRIBEs unanswered
        uint64_t heartbeat_sent_ms = 0;                      // 0: none outstanding
        uint64_t next_heartbeat_ms = 0;
        std::vector<std::string> live;
    };

    void run();
    void poll_once();
    void take_requests();
    void handle(cluster_request* request);
    void run_script(server& s, cluster_request* request);
    void connect(server& s, uint64_t now);
    void fail(server& s, const std::string& why);
    void became_up(server& s);
    void heartbeat(server& s, uint64_t now);
    void on_push(server& s, const redisReply* reply);
    void subscribe(server& s, const std::string& channel);
    void reply(cluster_request* request, bool ok, const redisReply* value);
    void deliver(uint32_t shard, cluster_event* event);
    void flush_to_shards();
    void publish_live();
    void update_up();
    uint32_t home_shard(std::string_view room) const {
        return static_cast<uint32_t>(XXH3_64bits(room.data(), room.size()) % _shards);
    }

    engine_config _config;
    std::string _instance;
    std::string _own_audio_prefix;
    std::vector<std::unique_ptr<server>> _servers;
    cluster_hub* _hub = nullptr;
    uint32_t _shards = 0;
    int _event_fd = -1;
    std::thread _thread;
    std::atomic<bool> _stopping{false};
    std::vector<std::deque<cluster_event*>> _overflow;
    std::vector<bool> _wake_shard;
};

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
            if (request->op == cluster_op::node_publish) {
                // The target's channel exists on every server: use the room's.
                std::string channel = "chorus:node:" + request->target;
                if (s.state != link::up || s.cmd.buffered_bytes() > publish_buffer_max) {
                    _hub->counters.dropped.fetch_add(1, std::memory_order_relaxed);
                    return;
                }
                s.cmd.command({"PUBLISH", channel, request->payload}, {});
            } else {
                if (s.state != link::up || s.cmd.buffered_bytes() > publish_buffer_max) {
                    _hub->counters.dropped.fetch_add(1, std::memory_order_relaxed);
                    return;
                }
                s.cmd.command({"PUBLISH", key(request->room, "c"), request->payload}, {});
            }
            _hub->counters.publishes.fetch_add(1, std::memory_order_relaxed);
            return;
        }
    }
}

void redis_engine::run_script(server& s, cluster_request* request) {
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
        (event->kind == cluster_event_kind::room_message && event->payload.starts_with("A|")) ||
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
    for (int i = 0; i < script_count; ++i) {
        std::string_view text = room_script_text(static_cast<room_script>(i));
        s.cmd.command({"SCRIPT", "LOAD", text}, [this, &s, i](const redisReply* r) {
            if (r && r->type == REDIS_REPLY_STRING) s.sha[i].assign(r->str, r->len);
        });
    }
    std::string known = s.epoch < 0 ? std::string() : std::to_string(s.epoch);
    s.cmd.command({"EVAL", epoch_script_text(), "0", known}, [this, &s](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            if (r) fail(s, "epoch script: " + std::string(reply_text(r)));
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
    s.said_down = false;
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
    s.next_attempt_ms = base::monotonic_ms() + s.backoff_ms;
    s.backoff_ms = std::min(s.backoff_ms * 2, backoff_max_ms);
    if (!s.said_down) {
        std::fprintf(stderr, "chorusd: cluster: redis %s down (%s); retrying with back-off\n",
                     s.name.c_str(), why.c_str());
        std::fflush(stderr);
        s.said_down = true;
    }
    for (auto& [room, f] : s.rooms) {
        f.confirmed = false;
        std::vector<cluster_request*> waiting;
        waiting.swap(f.waiting);
        for (cluster_request* request : waiting) reply(request, false, nullptr);
    }
    s.live.clear();
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
    // Our own audio comes back from the channel: the shard has fanned it out already.
    if (payload.size() > _own_audio_prefix.size() && payload.starts_with(_own_audio_prefix)) return;
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

}  // namespace

std::unique_ptr<cluster_engine> make_redis_engine(const engine_config& config) {
    return std::make_unique<redis_engine>(config);
}

}  // namespace chorus::core::cluster
