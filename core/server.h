// The whole server: one shard per thread (pinned), the cross-core ring grid, and signal handling.
// main() builds a server_config and calls run(); everything else happens on the shards.
#pragma once

#include "core/cluster_port.h"
#include "core/config.h"

namespace chorus::core {

// Runs until SIGINT/SIGTERM, then drains and returns the process exit code.
// With `cluster` (made by the caller from config.redis), rooms are shared through it.
int run_server(const server_config& config, cluster_engine* cluster = nullptr);

}  // namespace chorus::core
