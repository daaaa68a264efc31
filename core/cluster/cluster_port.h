// The seam between the shards and the cluster engine (core/cluster/, Redis). Shards never touch
// a Redis connection: they post requests (run a room script, publish a frame, follow a room's
// channel) through one SPSC ring each, and the engine answers with replies and channel messages
// through another. Everything crossing is an owned heap object passed by pointer; the engine
// lives on its own thread, so no core ever blocks on Redis.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/spsc_ring.h"

namespace chorus::core {

// The room scripts (core/cluster/scripts.cc); every one runs atomically in Redis.
enum class room_script : uint8_t { join, resume, leave, event, restore, seats };

enum class cluster_op : uint8_t {
    follow,        // subscribe to the room's channel (before any script for it)
    unfollow,      // unsubscribe: the room has no member on this node any more
    script,        // run `script` with `args` once the room's subscription is confirmed
    publish,       // publish `payload` on the room's channel (audio; no reply)
    node_publish,  // publish `payload` on instance `target`'s own channel (whispers)
};

struct cluster_request {
    cluster_op op = cluster_op::script;
    room_script script = room_script::join;
    uint32_t shard = 0;
    uint64_t tag = 0;  // echoed in the reply
    std::string room;
    std::string target;
    std::vector<std::string> args;
    std::string payload;
};

// A Redis reply, copied off the engine's thread.
struct reply_value {
    enum class kind : uint8_t { nil, integer, string, array, error } type = kind::nil;
    long long integer = 0;
    std::string text;
    std::vector<reply_value> items;
    std::string_view str() const { return text; }
};

enum class cluster_event_kind : uint8_t {
    reply,         // the answer to request `tag`; ok false when Redis could not run it
    room_message,  // a message on `room`'s channel
    node_message,  // a message on this instance's channel (whispers)
    link,          // Redis server `server` went up (ok) or down
    nodes,         // the live instances (`live`), once a heartbeat
};

struct cluster_event {
    cluster_event_kind kind = cluster_event_kind::reply;
    bool ok = false;
    uint32_t server = 0;
    uint64_t tag = 0;
    uint64_t epoch = 0;  // link up: the id epoch of that server (see scripts.cc)
    std::string room;
    std::string payload;
    reply_value value;
    std::vector<std::string> live;
};

struct cluster_record {
    void* item;  // cluster_request* toward the engine, cluster_event* toward a shard
};
constexpr size_t cluster_ring_records = 16384;
using cluster_ring = base::spsc_ring<cluster_record, cluster_ring_records>;

// Counters the engine writes and /metrics reads.
struct cluster_counters {
    std::atomic<uint64_t> publishes{0};
    std::atomic<uint64_t> messages_in{0};
    std::atomic<uint64_t> reconnects{0};
    std::atomic<uint64_t> dropped{0};
    std::atomic<uint64_t> scripts{0};
    std::atomic<uint64_t> seat_retries{0};  // seat commits refused as stale and worked out again
};

// The rings and shared state between N shards and the engine.
struct cluster_hub {
    std::vector<std::unique_ptr<cluster_ring>> to_engine;  // one per shard
    std::vector<std::unique_ptr<cluster_ring>> to_shard;   // one per shard
    std::function<void(uint32_t shard)> wake_shard;        // set by the server before start
    std::atomic<bool> up{false};                           // every Redis server is reachable
    // Shards that have taken in the engine's news that every link is up: a join is served only
    // by a shard that knows, so readiness (/healthz "ok", the start-up wait) counts these.
    std::atomic<uint32_t> shards_linked{0};
    cluster_counters counters;

    // The engine, once: the first connection attempt to every Redis server has finished (up or
    // failed), and the link events it produced are in the shards' rings.
    void mark_settled() {
        std::lock_guard lock(_settled_mutex);
        _settled = true;
        _settled_changed.notify_all();
    }
    // The server: waits up to `limit` for mark_settled(); false if it did not come.
    bool wait_settled(std::chrono::milliseconds limit) {
        std::unique_lock lock(_settled_mutex);
        return _settled_changed.wait_for(lock, limit, [this] { return _settled; });
    }

  private:
    std::mutex _settled_mutex;
    std::condition_variable _settled_changed;
    bool _settled = false;
};

// True once every Redis server is reachable and every shard knows it (joins are served).
inline bool cluster_ready(const cluster_hub& hub, size_t shards) {
    return hub.up.load(std::memory_order_acquire) &&
           hub.shards_linked.load(std::memory_order_acquire) == shards;
}

class cluster_engine {
  public:
    virtual ~cluster_engine() = default;
    // Starts the engine's thread. `hub` outlives the engine. The engine connects to every Redis
    // server at once and calls hub.mark_settled() when each first attempt has finished.
    virtual bool start(cluster_hub& hub, uint32_t shards, std::string* error) = 0;
    // Leaves the cluster (best effort, bounded) and joins the thread.
    virtual void stop() = 0;
    // Any shard thread: requests are waiting in its ring.
    virtual void wake() = 0;
    // This process's identity in the cluster: node id plus a per-start suffix.
    virtual const std::string& instance() const = 0;
    virtual uint32_t server_for(std::string_view room) const = 0;
    virtual uint32_t server_count() const = 0;
};

}  // namespace chorus::core
