// URL-safe base64 encoder and strict decoder. Table-driven, one pass, no allocation beyond the
// output string.
#include "core/base/base64.h"

#include <array>
#include <cstdint>

namespace chorus::base {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t invalid = 0xff;

constexpr std::array<uint8_t, 256> make_decode_table() {
    std::array<uint8_t, 256> table{};
    for (auto& entry : table) entry = invalid;
    for (uint8_t i = 0; i < 64; i++) table[static_cast<uint8_t>(alphabet[i])] = i;
    return table;
}

constexpr std::array<uint8_t, 256> decode_table = make_decode_table();

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.resize(base64url_encoded_size(bytes.size()));
    const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
    size_t n = bytes.size();
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t group = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
        out[o++] = alphabet[(group >> 18) & 63];
        out[o++] = alphabet[(group >> 12) & 63];
        out[o++] = alphabet[(group >> 6) & 63];
        out[o++] = alphabet[group & 63];
    }
    if (n - i == 1) {
        uint32_t group = uint32_t{in[i]} << 16;
        out[o++] = alphabet[(group >> 18) & 63];
        out[o++] = alphabet[(group >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t group = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
        out[o++] = alphabet[(group >> 18) & 63];
        out[o++] = alphabet[(group >> 12) & 63];
        out[o++] = alphabet[(group >> 6) & 63];
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    // Padding, if present, must complete the last group of four.
    if (!text.empty() && text.back() == '=') {
        if (text.size() % 4 != 0) return std::nullopt;
        text.remove_suffix(1);
        if (!text.empty() && text.back() == '=') text.remove_suffix(1);
        if (text.size() % 4 < 2) return std::nullopt;
    }
    size_t tail = text.size() % 4;
    if (tail == 1) return std::nullopt;

    std::string out;
    out.reserve(text.size() / 4 * 3 + (tail == 0 ? 0 : tail - 1));
    uint32_t group = 0;
    size_t filled = 0;
    for (char c : text) {
        uint8_t sextet = decode_table[static_cast<uint8_t>(c)];
        if (sextet == invalid) return std::nullopt;
        group = (group << 6) | sextet;
        if (++filled == 4) {
            out.push_back(static_cast<char>((group >> 16) & 0xff));
            out.push_back(static_cast<char>((group >> 8) & 0xff));
            out.push_back(static_cast<char>(group & 0xff));
            group = 0;
            filled = 0;
        }
    }
    if (filled == 2) {
        if ((group & 0x0f) != 0) return std::nullopt;
        out.push_back(static_cast<char>((group >> 4) & 0xff));
    } else if (filled == 3) {
        if ((group & 0x03) != 0) return std::nullopt;
        out.push_back(static_cast<char>((group >> 10) & 0xff));
        out.push_back(static_cast<char>((group >> 2) & 0xff));
    }
    return out;
}

}  // namespace chorus::base
