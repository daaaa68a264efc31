// Static file path resolution: decode first, then judge the decoded path, so that encoded
// variants (%2e%2e, %2f) cannot slip a traversal past the check.
#include "core/static_path.h"

#include "ws/query.h"

namespace chorus::core {

static_path_status resolve_static_path(std::string_view request_path, std::string* out) {
    std::string path;
    if (!ws::percent_decode(request_path, path)) return static_path_status::malformed;
    if (path.empty() || path[0] != '/') return static_path_status::malformed;
    if (path == "/") path = "/index.html";
    if (path.find('\\') != std::string::npos || path.find('\0') != std::string::npos)
        return static_path_status::forbidden;
    size_t start = 1;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        std::string_view segment(path.data() + start, end - start);
        if (segment.empty() || segment == "." || segment == "..")
            return static_path_status::forbidden;
        start = end + 1;
    }
    *out = std::move(path);
    return static_path_status::ok;
}

}  // namespace chorus::core
