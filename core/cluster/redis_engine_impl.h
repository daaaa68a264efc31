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
#include "core/cluster/audio_batch.h"
#include "core/cluster/redis_engine.h"
#include "core/cluster/scripts.h"

namespace chorus::core::cluster::detail {

inline constexpr size_t publish_buffer_max = 8u << 20;   // audio is dropped beyond this backlog
inline constexpr size_t command_buffer_max = 64u << 20;  // scripts fail beyond this backlog
inline constexpr size_t shard_overflow_max = 1u << 16;   // channel messages held for a full ring
inline constexpr size_t audio_batch_bytes_max = 256u << 10;  // a batch is sent once this big
inline constexpr uint64_t backoff_first_ms = 100;
inline constexpr uint64_t backoff_max_ms = 2000;
inline constexpr uint64_t still_down_log_ms = 30000;  // a server still down is logged this often
inline constexpr int script_count = 6;

// chorus:{ROOM}:SUFFIX, the key (or channel) of a room.
std::string key(std::string_view room, std::string_view suffix);
// The room of a channel named chorus:{ROOM}:c, or empty.
std::string_view room_of(std::string_view channel);
void copy_reply(const redisReply* in, reply_value* out);
std::string_view reply_text(const redisReply* r);
// An error reply for people: Redis's text, plus what to check when it is about credentials or
// permissions. Redis never echoes the password in these.
std::string refusal_text(const redisReply* r);

class redis_engine final : public cluster_engine {
  public:
    explicit redis_engine(const engine_config& config) : _config(config) {
        unsigned char nonce[6];
        RAND_bytes(nonce, sizeof(nonce));
        char hex[13];
        for (int i = 0; i < 6; ++i) std::snprintf(hex + 2 * i, 3, "%02x", nonce[i]);
        _instance = config.node_id + "/" + hex;
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
        std::string last_reason;  // the last reason logged for being down
        uint64_t last_said_ms = 0;
        uint64_t failed_attempts = 0;
        std::string sub_error;  // an error reply on the subscriber connection, to fail with
        uint64_t next_attempt_ms = 0;
        uint64_t backoff_ms = backoff_first_ms;
        std::string sha[script_count];
        int64_t epoch = -1;  // -1: never learned
        std::unordered_map<std::string, follow> rooms;
        std::unordered_map<std::string, uint32_t> acks_due;  // channel -> SUBSCRIBEs unanswered
        uint64_t heartbeat_sent_ms = 0;                      // 0: none outstanding
        uint64_t next_heartbeat_ms = 0;
        std::vector<std::string> live;
        // Room audio of this pass per peer instance, sent as one PUBLISH on its node channel.
        std::unordered_map<std::string, std::string> batches;
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
    void batch_audio(server& s, const cluster_request& request);
    void send_batch(server& s, const std::string& target, std::string& batch);
    void flush_batches(server& s);
    void flush_batches_when_due(uint64_t now);
    void on_audio_batch(std::string_view payload);
    void deliver(uint32_t shard, cluster_event* event);
    void flush_to_shards();
    void publish_live();
    void update_up();
    void settle();
    uint32_t home_shard(std::string_view room) const {
        return static_cast<uint32_t>(XXH3_64bits(room.data(), room.size()) % _shards);
    }

    engine_config _config;
    uint64_t _next_batch_ms = 0;  // when the held audio batches go, at the latest
    bool _batches_held = false;   // some server holds audio for a peer
    std::string _instance;
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
