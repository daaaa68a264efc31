// The Lua scripts that make every change to a room's shared state atomic in Redis: take the next
// seq, append the event to the room's Stream and publish it on the room's channel in one step, so
// that every node sees one order. Plus the node heartbeat and the member-id epoch.
#pragma once

#include <string_view>

#include "core/cluster/cluster_port.h"

namespace chorus::core::cluster {

std::string_view room_script_text(room_script script);
std::string_view heartbeat_script_text();
std::string_view epoch_script_text();

}  // namespace chorus::core::cluster
