// parse_duration_ms and parse_size_bytes: table tests of accepted forms and of rejects.
#include "core/base/duration.h"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>

namespace chorus::base {
namespace {

struct parse_case {
    std::string_view text;
    std::optional<uint64_t> want;
};

TEST(Duration, ParsesTable) {
    const parse_case cases[] = {
        {"2", 2000},
        {"2s", 2000},
        {"500ms", 500},
        {"1.5s", 1500},
        {"1.5", 1500},
        {"0.25s", 250},
        {"1m", 60'000},
        {"2h", 7'200'000},
        {"0", 0},
        {"0ms", 0},
        {"15", 15'000},
        {"007s", 7000},
        {"0.0001s", 0},  // below a millisecond: truncated
        {"1.9999ms", 1},
        {"18446744073709551615ms", 18446744073709551615u},
        {"", std::nullopt},
        {"s", std::nullopt},
        {"ms", std::nullopt},
        {"-1", std::nullopt},
        {"-1s", std::nullopt},
        {"+1s", std::nullopt},
        {" 1s", std::nullopt},
        {"1s ", std::nullopt},
        {"1 s", std::nullopt},
        {"1.s", std::nullopt},
        {".5s", std::nullopt},
        {"1..5s", std::nullopt},
        {"1.5.5s", std::nullopt},
        {"1sec", std::nullopt},
        {"1ss", std::nullopt},
        {"1us", std::nullopt},
        {"1d", std::nullopt},
        {"1S", std::nullopt},
        {"abc", std::nullopt},
        {"1e3", std::nullopt},
        {"0x10", std::nullopt},
        {"18446744073709551616ms", std::nullopt},  // 2^64
        {"18446744073709551615", std::nullopt},    // fits, but not once scaled to ms
        {"99999999999999999999999", std::nullopt},
        {"1.0000000000000000000s", std::nullopt},  // more than 18 fraction digits
        {std::string_view("1\0s", 3), std::nullopt},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parse_duration_ms(c.text), c.want) << "input '" << c.text << "'";
    }
}

TEST(Size, ParsesTable) {
    const parse_case cases[] = {
        {"65536", 65536},
        {"0", 0},
        {"100b", 100},
        {"100B", 100},
        {"64k", 65536},
        {"64K", 65536},
        {"64KiB", 65536},
        {"64kib", 65536},
        {"64KB", 65536},
        {"64kb", 65536},
        {"1m", 1'048'576},
        {"1M", 1'048'576},
        {"1MiB", 1'048'576},
        {"8MiB", 8'388'608},
        {"1g", 1'073'741'824},
        {"1GiB", 1'073'741'824},
        {"2t", 2'199'023'255'552},
        {"1.5k", 1536},
        {"0.5m", 524'288},
        {"16777215t", 18446742974197923840u},
        {"16777216t", std::nullopt},  // 2^64
        {"", std::nullopt},
        {"k", std::nullopt},
        {"-1", std::nullopt},
        {"-64k", std::nullopt},
        {"64 k", std::nullopt},
        {" 64k", std::nullopt},
        {"64kx", std::nullopt},
        {"64kibb", std::nullopt},
        {"64i", std::nullopt},
        {"64ib", std::nullopt},
        {"64p", std::nullopt},
        {"64bk", std::nullopt},
        {"1e6", std::nullopt},
        {"64.k", std::nullopt},
        {"18446744073709551616", std::nullopt},
        {"18446744073709551615", 18446744073709551615u},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parse_size_bytes(c.text), c.want) << "input '" << c.text << "'";
    }
}

}  // namespace
}  // namespace chorus::base
