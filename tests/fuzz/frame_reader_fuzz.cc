// libFuzzer target for message_reader. The first byte picks the role, the message limit and the
// seed of the piece sizes; the rest is fed in pieces as recv() might return it. Checks that a
// call never consumes more than it was given, that need_more consumes everything, that payloads
// respect the limits, and that a failed reader stays failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ws/frame.h"
#include "ws/message_reader.h"
#include "ws/utf8.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::ws;
    if (size == 0) return 0;
    const uint8_t control = data[0];
    const role r = (control & 1) != 0 ? role::client : role::server;
    const size_t limits[] = {0, 1, 16, 125, 1000, 70000, 1 << 20, 1 << 30};
    const size_t limit = limits[(control >> 1) & 7];
    uint32_t seed = control >> 4;
    std::vector<uint8_t> stream(data + 1, data + size);
    message_reader reader(r, limit);
    size_t position = 0;
    while (position < stream.size()) {
        seed = seed * 1103515245u + 12345u;  // piece sizes 1..64, or the whole rest
        size_t piece = (seed >> 16) % 65;
        if (piece == 0) piece = stream.size() - position;
        piece = std::min(piece, stream.size() - position);
        std::vector<uint8_t> chunk(stream.begin() + position, stream.begin() + position + piece);
        position += piece;
        std::span<uint8_t> input(chunk);
        for (int calls = 0;; ++calls) {
            check(calls <= 1 + static_cast<int>(piece));
            const read_result result = reader.next(input);
            check(result.consumed <= input.size());
            input = input.subspan(result.consumed);
            if (result.event == read_event::need_more) {
                check(input.empty());
                break;
            }
            if (result.event == read_event::fail) {
                check(result.close_code == 1002 || result.close_code == 1007 ||
                      result.close_code == 1009);
                check(reader.next(input).event == read_event::fail);
                return 0;
            }
            if (result.event == read_event::text || result.event == read_event::binary) {
                check(result.payload.size() <= limit);
                if (result.event == read_event::text) {
                    check(valid_utf8(result.payload.data(), result.payload.size()));
                }
            } else {
                check(result.payload.size() <= control_payload_bytes_max);
            }
            if (result.event == read_event::close && !result.payload.empty()) {
                check(valid_close_code(result.close_code));
            }
            if (result.payload.size() > 0) {
                volatile uint8_t sink = result.payload[result.payload.size() - 1];
                (void)sink;
            }
        }
        if ((seed & 0x300) == 0) reader.release_buffer();
        check(reader.buffered_bytes() <=
              limit + control_payload_bytes_max + frame_header_bytes_max);
    }
    return 0;
}
