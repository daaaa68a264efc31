// The Redis cluster engine's class, shared by its two source files: redis_engine.cc (the thread,
// requests from shards, scripts, delivery to shards) and redis_engine_link.cc (connecting,
// failing over, heartbeats, subscriptions and channel messages). Internal to core/cluster/.
#pragma once

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
#include "core/cluster/redis_engine.h"
#include "core/cluster/scripts.h"

namespace chorus::core::cluster::detail {

inline constexpr size_t publish_buffer_max = 8u << 20;   // audio is dropped beyond this backlog
inline constexpr size_t command_buffer_max = 64u << 20;  // scripts fail beyond this backlog
inline constexpr size_t shard_overflow_max = 1u << 16;   // channel messages held for a full ring
inline constexpr uint64_t backoff_first_ms = 100;
inline constexpr uint64_t backoff_max_ms = 2000;
inline constexpr int script_count = 6;

// chorus:{ROOM}:SUFFIX, the key (or channel) of a room.
std::string key(std::string_view room, std::string_view suffix);
// The room of a channel named chorus:{ROOM}:c, or empty.
std::string_view room_of(std::string_view channel);
void copy_reply(const redisReply* in, reply_value* out);
std::string_view reply_text(const redisReply* r);

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
        bool attempted = false;  // the first connection attempt has finished (up or failed)
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
    void settle();
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
    bool _settled = false;
    std::vector<std::deque<cluster_event*>> _overflow;
    std::vector<bool> _wake_shard;
};

}  // namespace chorus::core::cluster::detail
