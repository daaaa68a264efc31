// Fixed limits of the engine, in one place, with the relations between them checked at compile
// time. Configurable limits (flags) live in server_config; these are the ones that are not.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chorus::core {

constexpr size_t room_id_bytes_max = 64;
constexpr size_t user_id_bytes_max = 64;
constexpr size_t display_name_bytes_max = 64;
constexpr size_t chat_text_bytes_max = 4096;
constexpr size_t echo_message_bytes_max = 16 * 1024 * 1024;
constexpr size_t http_head_bytes_max = 8192;
constexpr size_t send_queue_soft_bytes_limit = 8 * 1024 * 1024;
constexpr uint32_t cross_ring_records = 4096;  // per ordered pair of shards
constexpr uint32_t ring_records_per_pass_max = 1024;
constexpr uint32_t shards_max = 256;
constexpr int listen_backlog_max = 4096;       // connections the kernel queues per listener
constexpr uint32_t start_step_ms_max = 30000;  // longest start-up wait (loop step, Redis)
constexpr uint32_t sweep_ticks_per_second =
    10;                                         // the session sweep covers every slot once a second
constexpr uint32_t closing_ms_max = 3000;       // a queued close frame that cannot be written
constexpr uint64_t drain_listen_ms_max = 1000;  // draining: /healthz answers this long at most
constexpr size_t whispers_held_max = 1000;      // text whispers held for an away member
constexpr uint32_t seats_max = 32;              // mic seats in a room (the protocol's limit)
constexpr uint64_t speaking_poll_ms = 50;
constexpr uint32_t seat_commit_tries_max = 16;  // cluster: stale seat commits before giving up //
                                                // how often a shard works out its speaking sets
constexpr size_t fanout_timestamps_max = 4096;  // audio receive times kept per pass (metrics)

static_assert(chat_text_bytes_max < echo_message_bytes_max);
static_assert(ring_records_per_pass_max <= cross_ring_records);
static_assert(shards_max <= UINT16_MAX + 1, "a session keeps its handoff shard in 16 bits");

}  // namespace chorus::core
