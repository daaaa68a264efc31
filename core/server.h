// The whole server: one shard per thread (pinned), the cross-core ring grid, and signal handling.
// main() builds a server_config and a room_sync_provider and calls run_server().
#pragma once

#include "core/config.h"
#include "core/room_sync.h"

namespace chorus::core {

// Runs until SIGINT/SIGTERM, then drains and returns the process exit code. `syncs` (a single
// node's local_sync_provider, or the cluster's from core/cluster/) outlives the call.
int run_server(const server_config& config, room_sync_provider& syncs);

}  // namespace chorus::core
