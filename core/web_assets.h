// The browser page, compiled into the binary at build time (tools/embed_web.py generates the
// table from web/), so that one chorusd file serves it from any directory.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace chorus::core {

struct web_asset {
    std::string_view path;  // "/index.html", "/chorus.js", ...
    std::string_view content_type;
    std::string_view bytes;
};

std::span<const web_asset> web_assets();
// Content type for a file name, by extension ("application/octet-stream" if unknown).
std::string_view content_type_for(std::string_view path);

}  // namespace chorus::core
