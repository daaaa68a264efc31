// The cluster engine: one thread that owns every Redis connection (a command connection and a
// subscriber connection per Redis server), runs the room scripts for the shards, routes channel
// messages to the room's home shard, sends heartbeats, and reconnects with back-off when Redis
// goes away. Shards reach it only through the rings of core/cluster/cluster_port.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/cluster/cluster_port.h"
#include "core/cluster/redis_conn.h"

namespace chorus::core::cluster {

struct engine_config {
    std::vector<redis_address> servers;  // rooms are spread over them by hash
    std::string node_id;
    uint64_t heartbeat_ms = 1000;
    uint64_t node_timeout_ms = 3000;
    uint32_t history = 1000;  // events kept in each room's Stream
    // Room audio for other nodes is held this long at most and sent as one batch per peer node
    // (0: at the end of every engine pass). Events and whispers send what is held first.
    uint64_t audio_batch_ms = 5;
};

std::unique_ptr<cluster_engine> make_redis_engine(const engine_config& config);

}  // namespace chorus::core::cluster
