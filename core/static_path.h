// Maps a request path to a file path under the web root, refusing traversal. Pure function, so
// it is unit-tested and fuzzed apart from the server.
#pragma once

#include <string>
#include <string_view>

namespace chorus::core {

enum class static_path_status { ok, malformed, forbidden };

// Percent-decodes `request_path`; "/" becomes "/index.html". Refuses (forbidden) any ".."
// segment, backslash, NUL, empty segment or a path not starting with '/', after decoding.
static_path_status resolve_static_path(std::string_view request_path, std::string* out);

}  // namespace chorus::core
