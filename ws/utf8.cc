// UTF-8 validation: the bulk check is simdjson's SIMD validator; the per-sequence code below is
// for the few bytes of a character cut by a piece boundary, and for error paths that must walk
// invalid text byte by byte (finding where streamed text went wrong, JSON escaping of peer text).
#include "ws/utf8.h"

#include <simdjson.h>

#include <algorithm>

#include "core/base/assert.h"

namespace chorus::ws {
namespace {

// What a lead byte promises: the sequence length (0 when the byte never starts one: continuation
// bytes, C0/C1, F5..FF) and the range of the second byte, which rules out overlongs (E0, F0),
// surrogates (ED) and code points above U+10FFFF (F4).
struct lead_rule {
    uint8_t length = 0;
    uint8_t second_min = 0x80;
    uint8_t second_max = 0xBF;
};

lead_rule rule_for(uint8_t lead) {
    if (lead < 0x80) return {1, 0, 0};
    if (lead >= 0xC2 && lead <= 0xDF) return {2, 0x80, 0xBF};
    if (lead == 0xE0) return {3, 0xA0, 0xBF};
    if (lead == 0xED) return {3, 0x80, 0x9F};
    if (lead >= 0xE1 && lead <= 0xEF) return {3, 0x80, 0xBF};
    if (lead == 0xF0) return {4, 0x90, 0xBF};
    if (lead == 0xF4) return {4, 0x80, 0x8F};
    if (lead >= 0xF1 && lead <= 0xF3) return {4, 0x80, 0xBF};
    return {};
}

// The bytes at the end of text[0..size) that start a character not finished there (0-3). Exact
// when text is the beginning of well-formed UTF-8: the last non-continuation byte among the last
// three is that character's lead. On other text the split it gives is still checked by callers.
size_t unfinished_size(const uint8_t* text, size_t size) {
    const size_t window = std::min<size_t>(size, 3);
    for (size_t back = 1; back <= window; ++back) {
        const uint8_t byte = text[size - back];
        if ((byte & 0xC0) == 0x80) continue;
        const size_t length = byte < 0xC0 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
        return length > back ? back : 0;
    }
    return 0;
}

// Offset of the first byte of text[0..size) after which it cannot become well-formed UTF-8, or
// size when it still can (a character may be left unfinished at the end). Starts on a lead byte.
size_t scalar_prefix_error(const uint8_t* text, size_t size) {
    size_t at = 0;
    while (at < size) {
        const lead_rule rule = rule_for(text[at]);
        if (rule.length == 0) return at;
        if (rule.length > 1 && at + 1 < size &&
            (text[at + 1] < rule.second_min || text[at + 1] > rule.second_max)) {
            return at + 1;
        }
        for (size_t i = 2; i < rule.length && at + i < size; ++i) {
            if ((text[at + i] & 0xC0) != 0x80) return at + i;
        }
        at += rule.length;
    }
    return size;
}

}  // namespace

bool valid_utf8(const uint8_t* data, size_t size) {
    if (size == 0) return true;
    return simdjson::validate_utf8(reinterpret_cast<const char*>(data), size);
}

size_t utf8_prefix_error(const uint8_t* text, size_t checked, size_t size) {
    CHORUS_ASSERT(checked <= size);
    // Resume at the character that the last call left unfinished; all before it is accepted.
    const size_t start = checked - unfinished_size(text, checked);
    const uint8_t* rest = text + start;
    const size_t rest_size = size - start;
    const size_t tail = unfinished_size(rest, rest_size);
    const size_t whole = rest_size - tail;
    if (valid_utf8(rest, whole) && scalar_prefix_error(rest + whole, tail) == tail) {
        return utf8_prefix_ok;
    }
    const size_t error = scalar_prefix_error(rest, rest_size);
    CHORUS_ASSERT(error < rest_size);  // the two checks agree on what is a valid beginning
    return start + error;
}

bool utf8_ends_whole(const uint8_t* text, size_t size) {
    return unfinished_size(text, size) == 0;
}

size_t utf8_sequence_size(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const lead_rule rule = rule_for(data[0]);
    if (rule.length == 0 || size < rule.length) return 0;
    if (rule.length == 1) return 1;
    if (data[1] < rule.second_min || data[1] > rule.second_max) return 0;
    for (size_t i = 2; i < rule.length; ++i) {
        if ((data[i] & 0xC0) != 0x80) return 0;
    }
    return rule.length;
}

}  // namespace chorus::ws
