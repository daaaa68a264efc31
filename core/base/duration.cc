// Duration and size flag parsing. Values are read as an exact decimal (whole part plus up to 18
// fraction digits) and scaled in 128-bit arithmetic, so overflow is detected, never wrapped.
#include "core/base/duration.h"

#include <limits>

namespace chorus::base {

namespace {

constexpr size_t fraction_digits_max = 18;
constexpr size_t unit_chars_max = 4;

struct decimal {
    uint64_t whole = 0;
    uint64_t fraction = 0;        // the digits after the point, as an integer
    uint64_t fraction_scale = 1;  // 10^(number of fraction digits)
    std::string_view unit;        // whatever follows the number
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::optional<decimal> parse_decimal(std::string_view text) {
    decimal out;
    size_t i = 0;
    while (i < text.size() && is_digit(text[i])) {
        uint64_t digit = static_cast<uint64_t>(text[i] - '0');
        if (__builtin_mul_overflow(out.whole, 10u, &out.whole)) return std::nullopt;
        if (__builtin_add_overflow(out.whole, digit, &out.whole)) return std::nullopt;
        i++;
    }
    if (i == 0) return std::nullopt;
    if (i < text.size() && text[i] == '.') {
        i++;
        size_t digits = 0;
        while (i < text.size() && is_digit(text[i])) {
            if (digits == fraction_digits_max) return std::nullopt;
            out.fraction = out.fraction * 10 + static_cast<uint64_t>(text[i] - '0');
            out.fraction_scale *= 10;
            digits++;
            i++;
        }
        if (digits == 0) return std::nullopt;
    }
    out.unit = text.substr(i);
    return out;
}

std::optional<uint64_t> scale(const decimal& value, uint64_t unit) {
    using wide = unsigned __int128;
    wide total = static_cast<wide>(value.whole) * unit +
                 static_cast<wide>(value.fraction) * unit / value.fraction_scale;
    if (total > std::numeric_limits<uint64_t>::max()) return std::nullopt;
    return static_cast<uint64_t>(total);
}

char to_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::optional<uint64_t> parse_duration_ms(std::string_view text) {
    std::optional<decimal> value = parse_decimal(text);
    if (!value) return std::nullopt;
    std::string_view unit = value->unit;
    uint64_t ms_per_unit = 0;
    if (unit.empty() || unit == "s") {
        ms_per_unit = 1'000;
    } else if (unit == "ms") {
        ms_per_unit = 1;
    } else if (unit == "m") {
        ms_per_unit = 60'000;
    } else if (unit == "h") {
        ms_per_unit = 3'600'000;
    } else {
        return std::nullopt;
    }
    return scale(*value, ms_per_unit);
}

std::optional<uint64_t> parse_size_bytes(std::string_view text) {
    std::optional<decimal> value = parse_decimal(text);
    if (!value) return std::nullopt;
    if (value->unit.size() > unit_chars_max) return std::nullopt;
    char unit[unit_chars_max + 1] = {};
    for (size_t i = 0; i < value->unit.size(); i++) unit[i] = to_lower(value->unit[i]);
    std::string_view suffix(unit, value->unit.size());

    int shift = 0;
    if (!suffix.empty() && suffix != "b") {
        switch (suffix[0]) {
            case 'k':
                shift = 10;
                break;
            case 'm':
                shift = 20;
                break;
            case 'g':
                shift = 30;
                break;
            case 't':
                shift = 40;
                break;
            default:
                return std::nullopt;
        }
        std::string_view rest = suffix.substr(1);
        if (!rest.empty() && rest != "b" && rest != "ib") return std::nullopt;
    }
    return scale(*value, uint64_t{1} << shift);
}

}  // namespace chorus::base
