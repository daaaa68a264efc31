// Parsing of human-written durations and sizes for command-line flags ("2", "2s", "500ms", "64k").
// Pure functions: nullopt on anything that is not a well-formed, non-negative, in-range value.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace chorus::base {

// "2" and "2s" -> 2000, "500ms" -> 500, "1.5s" -> 1500, "1m" -> 60000, "2h" -> 7200000.
// A bare number is seconds. Units are lower-case: ms, s, m, h. Fractions are allowed
// ("0.25s"); sub-millisecond remainders are truncated. No sign, no spaces, at most 18 fraction
// digits. nullopt on empty, junk, negative or overflowing input.
std::optional<uint64_t> parse_duration_ms(std::string_view text);

// "65536" -> 65536, "64k" / "64K" / "64KiB" / "64kb" -> 65536, "1m" / "1MiB" -> 1048576, and g, t
// likewise. Units are binary (powers of 1024) and case-insensitive; an optional trailing "b"
// ("64kb", "100b") is accepted. Fractions round down to a whole byte ("1.5k" -> 1536).
// nullopt on empty, junk, negative or overflowing input.
std::optional<uint64_t> parse_size_bytes(std::string_view text);

}  // namespace chorus::base
