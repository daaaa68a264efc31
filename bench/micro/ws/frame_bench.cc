// Micro-benchmarks for the ws layer: reading (parse + unmask) and encoding frames at audio,
// chat and large sizes (text also in pieces and fragments), raw masking, and the full server
// handshake (parse, check, accept key).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ws/frame.h"
#include "ws/handshake.h"
#include "ws/http_request.h"
#include "ws/message_reader.h"

namespace chorus::ws {
namespace {

constexpr uint8_t bench_mask_key[4] = {0x12, 0x34, 0x56, 0x78};

std::string masked_frame(opcode op, size_t size) {
    std::string payload(size, 'a');
    std::string out;
    append_frame(out, op, payload, true, bench_mask_key);
    return out;
}

// One complete binary frame per call, zero-copy path. Unmasking in place flips the payload
// between masked and clear; binary payloads are not inspected, so the buffer is reused as is.
void read_binary_frame(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    std::string frame = masked_frame(opcode::binary, size);
    std::span<uint8_t> input(reinterpret_cast<uint8_t*>(frame.data()), frame.size());
    message_reader reader(role::server, 1 << 20);
    for (auto _ : state) {
        const read_result result = reader.next(input);
        benchmark::DoNotOptimize(result.payload.data());
        if (result.event != read_event::binary) state.SkipWithError("unexpected event");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(read_binary_frame)->Arg(128)->Arg(1024)->Arg(65536);

// Text frames pay for UTF-8 validation; the masked frame is restored (memcpy) every iteration.
void read_text_frame(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const std::string original = masked_frame(opcode::text, size);
    std::string frame = original;
    std::span<uint8_t> input(reinterpret_cast<uint8_t*>(frame.data()), frame.size());
    message_reader reader(role::server, 1 << 20);
    for (auto _ : state) {
        std::memcpy(frame.data(), original.data(), frame.size());
        const read_result result = reader.next(input);
        benchmark::DoNotOptimize(result.payload.data());
        if (result.event != read_event::text) state.SkipWithError("unexpected event");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(read_text_frame)->Arg(128)->Arg(1024)->Arg(65536);

// A 64 KiB receive full of small audio frames, read until need_more (the server's real loop).
void read_frame_batch(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    std::string batch;
    while (batch.size() + size + 14 <= 65536) batch += masked_frame(opcode::binary, size);
    size_t frames = 0;
    message_reader reader(role::server, 1 << 20);
    for (auto _ : state) {
        std::span<uint8_t> input(reinterpret_cast<uint8_t*>(batch.data()), batch.size());
        while (true) {
            const read_result result = reader.next(input);
            input = input.subspan(result.consumed);
            if (result.event == read_event::need_more) break;
            benchmark::DoNotOptimize(result.payload.data());
            ++frames;
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.size()));
    state.SetItemsProcessed(static_cast<int64_t>(frames));
}
BENCHMARK(read_frame_batch)->Arg(128)->Arg(1024);

// A frame split into pieces of `range(1)` bytes, so every byte goes through the internal buffer.
void read_split_frame(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const size_t piece = static_cast<size_t>(state.range(1));
    std::string frame = masked_frame(opcode::binary, size);
    message_reader reader(role::server, 1 << 20);
    for (auto _ : state) {
        for (size_t start = 0; start < frame.size(); start += piece) {
            const size_t n = std::min(piece, frame.size() - start);
            const read_result result =
                reader.next({reinterpret_cast<uint8_t*>(frame.data()) + start, n});
            benchmark::DoNotOptimize(result.payload.data());
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(read_split_frame)->Args({65536, 4096})->Args({1024, 100});

// Text of `size` bytes mixing ASCII with 2-, 3- and 4-byte characters, so that pieces and
// fragments cut characters apart.
std::string mixed_text(size_t size) {
    const std::string unit = "chorus \xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8E\xA4 ";
    std::string text;
    while (text.size() + unit.size() <= size) text += unit;
    text.append(size - text.size(), 'a');
    return text;
}

// A text frame split into pieces of `range(1)` bytes: its UTF-8 is checked as the pieces arrive.
// The payload is unmasked while it is copied, so the input stays masked and is reused as is.
void read_split_text_frame(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const size_t piece = static_cast<size_t>(state.range(1));
    std::string frame;
    append_frame(frame, opcode::text, mixed_text(size), true, bench_mask_key);
    message_reader reader(role::server, 1 << 20);
    benchmark::IterationCount messages = 0;
    for (auto _ : state) {
        for (size_t start = 0; start < frame.size(); start += piece) {
            const size_t n = std::min(piece, frame.size() - start);
            const read_result result =
                reader.next({reinterpret_cast<uint8_t*>(frame.data()) + start, n});
            benchmark::DoNotOptimize(result.payload.data());
            if (result.event == read_event::text) ++messages;
        }
    }
    if (messages != state.iterations()) state.SkipWithError("unexpected events");
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(read_split_text_frame)->Args({65536, 4096})->Args({1024, 100});

// One text message in fragments of `range(1)` bytes, all in one receive.
void read_fragmented_text(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const size_t fragment = static_cast<size_t>(state.range(1));
    const std::string text = mixed_text(size);
    std::string stream;
    for (size_t start = 0; start < size; start += fragment) {
        const bool first = start == 0;
        const bool last = start + fragment >= size;
        append_frame(stream, first ? opcode::text : opcode::continuation,
                     std::string_view(text).substr(start, fragment), last, bench_mask_key);
    }
    message_reader reader(role::server, 1 << 20);
    for (auto _ : state) {
        const read_result result =
            reader.next({reinterpret_cast<uint8_t*>(stream.data()), stream.size()});
        benchmark::DoNotOptimize(result.payload.data());
        if (result.event != read_event::text) state.SkipWithError("unexpected event");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(read_fragmented_text)->Args({65536, 4096})->Args({4096, 100});

void encode_frame(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const bool masked = state.range(1) != 0;
    const std::string payload(size, 'p');
    std::string out;
    out.reserve(size + frame_header_bytes_max);
    for (auto _ : state) {
        out.clear();
        append_frame(out, opcode::binary, payload, true, masked ? bench_mask_key : nullptr);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(encode_frame)->ArgsProduct({{128, 1024, 65536}, {0, 1}});

void mask_only(benchmark::State& state) {
    std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0x5A);
    for (auto _ : state) {
        apply_mask(data.data(), data.size(), bench_mask_key, 1);
        benchmark::DoNotOptimize(data.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(mask_only)->Arg(128)->Arg(1024)->Arg(65536);

void handshake(benchmark::State& state) {
    const std::string request =
        "GET /v1/rooms/lobby?user=alice&name=Alice HTTP/1.1\r\nHost: chorus.example:8080\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n"
        "Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
        "Sec-WebSocket-Version: 13\r\nOrigin: https://chorus.example\r\n"
        "Sec-WebSocket-Protocol: chorus.v1\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: keep-alive, Upgrade\r\n"
        "Pragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n";
    std::string response;
    for (auto _ : state) {
        const parse_outcome outcome = parse_http_request(request);
        const upgrade_check check = check_upgrade(outcome.request);
        if (check.http_status != 0) state.SkipWithError("upgrade refused");
        response.clear();
        append_upgrade_response(response, outcome.request.websocket_key, check.offers_chorus_v1);
        benchmark::DoNotOptimize(response.data());
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(handshake);

void parse_request_only(benchmark::State& state) {
    const std::string request =
        "GET /v1/rooms/lobby?user=alice HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    for (auto _ : state) {
        const parse_outcome outcome = parse_http_request(request);
        benchmark::DoNotOptimize(outcome.request.header_bytes);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
}
BENCHMARK(parse_request_only);

}  // namespace
}  // namespace chorus::ws
