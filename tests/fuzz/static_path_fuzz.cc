// libFuzzer target for resolve_static_path, which stands between a request path and the file
// system under --web: an ok result never leaves the web root (no "..", "." or empty segment, no
// backslash or NUL, always absolute), and the result is exactly the percent-decoded input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/static_path.h"
#include "ws/query.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string out = "<untouched>";
    core::static_path_status status = core::resolve_static_path(input, &out);

    std::string decoded;
    bool decodes = ws::percent_decode(input, decoded);
    if (!decodes || decoded.empty() || decoded[0] != '/') {
        check(status == core::static_path_status::malformed);
    } else {
        check(status != core::static_path_status::malformed);
    }
    if (status != core::static_path_status::ok) {
        check(out == "<untouched>");
        return 0;
    }
    check(out == (decoded == "/" ? "/index.html" : decoded));
    check(!out.empty() && out[0] == '/');
    check(out.find('\\') == std::string::npos);
    check(out.find('\0') == std::string::npos);
    check(out.back() != '/');
    // Every segment is a plain name: never "", "." or "..".
    size_t start = 1;
    while (start <= out.size()) {
        size_t end = out.find('/', start);
        if (end == std::string::npos) end = out.size();
        std::string_view segment(out.data() + start, end - start);
        check(!segment.empty());
        check(segment != ".");
        check(segment != "..");
        start = end + 1;
    }
    check(out.find("/../") == std::string::npos);
    check(!out.ends_with("/.."));
    return 0;
}
