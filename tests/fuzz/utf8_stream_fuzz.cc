// libFuzzer target for streaming UTF-8 validation. The first byte seeds the piece sizes; the rest
// is text fed in pieces. Checks that the verdict and the failing offset do not depend on where
// the text is cut, that they agree with the whole-text SIMD validator, and that the offset is the
// earliest one (everything before it is still accepted).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ws/utf8.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::ws;
    if (size == 0) return 0;
    uint32_t seed = data[0];
    const uint8_t* text = data + 1;
    const size_t text_size = size - 1;
    const size_t whole_error = utf8_prefix_error(text, 0, text_size);
    const bool whole_valid = whole_error == utf8_prefix_ok && utf8_ends_whole(text, text_size);
    check(whole_valid == valid_utf8(text, text_size));
    if (whole_error != utf8_prefix_ok) {
        check(whole_error < text_size);
        check(utf8_prefix_error(text, 0, whole_error) == utf8_prefix_ok);
        check(utf8_prefix_error(text, 0, whole_error + 1) == whole_error);
    }
    size_t checked = 0;
    size_t streamed_error = utf8_prefix_ok;
    while (checked < text_size) {
        seed = seed * 1103515245u + 12345u;  // piece sizes 0..15, or the whole rest
        size_t piece = (seed >> 16) % 17;
        if (piece == 16) piece = text_size - checked;
        const size_t end = checked + std::min(piece, text_size - checked);
        const size_t error = utf8_prefix_error(text, checked, end);
        if (error != utf8_prefix_ok) {
            check(error >= checked && error < end);  // found in the piece that holds it
            streamed_error = error;
            break;
        }
        checked = end;
    }
    check(streamed_error == whole_error);
    return 0;
}
