// Refusing connections the loop cannot hold (no slot, or no file descriptor), shared by both
// backends: a best-effort 503 written without blocking, then close. A spare descriptor kept open
// for the purpose lets the loop accept and refuse even when the process is out of descriptors.
#pragma once

#include <string>

namespace chorus::net {

constexpr int refusals_per_pass_max = 256;

// Writes `response` (if any) without blocking and closes fd.
void refuse_connection(int fd, const std::string& response);

// Out of descriptors: frees *spare_fd, accepts and refuses everything waiting on `listener`
// (no new readiness event would report it), then takes the spare back. Returns false when no
// spare could be had (another thread took the freed descriptor): pause accepting until later.
bool refuse_waiting(int listener, int* spare_fd, const std::string& response);

}  // namespace chorus::net
