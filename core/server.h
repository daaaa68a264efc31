// The whole server: one shard per thread (pinned), the cross-core ring grid, and signal handling.
// main() builds a server_config and calls run(); everything else happens on the shards.
#pragma once

#include "core/config.h"

namespace chorus::core {

// Runs until SIGINT/SIGTERM, then drains and returns the process exit code.
int run_server(const server_config& config);

}  // namespace chorus::core
