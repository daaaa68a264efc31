// UTF-8 validation: the bulk check is simdjson's SIMD validator; the per-sequence decoder below is
// only for error paths that must walk invalid text byte by byte (JSON escaping of peer text).
#include "ws/utf8.h"

#include <simdjson.h>

namespace chorus::ws {

bool valid_utf8(const uint8_t* data, size_t size) {
    if (size == 0) return true;
    return simdjson::validate_utf8(reinterpret_cast<const char*>(data), size);
}

size_t utf8_sequence_size(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t lead = data[0];
    if (lead < 0x80) return 1;
    size_t length = 0;
    uint8_t second_min = 0x80, second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) second_min = 0xA0;  // overlong
        if (lead == 0xED) second_max = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) second_min = 0x90;  // overlong
        if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
    } else {
        return 0;
    }
    if (size < length) return 0;
    if (data[1] < second_min || data[1] > second_max) return 0;
    for (size_t i = 2; i < length; ++i) {
        if ((data[i] & 0xC0) != 0x80) return 0;
    }
    return length;
}

}  // namespace chorus::ws
