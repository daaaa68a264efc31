// Incremental RFC 6455 reader: turns a stream of received bytes into whole messages and control
// frames, enforcing every framing rule (masking, lengths, fragmentation, UTF-8, close codes).
// Text is checked as it arrives, so bad UTF-8 fails at the piece that holds it (RFC 6455 8.1).
// No I/O: the connection feeds it what recv() returned and acts on the events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "ws/frame.h"

namespace chorus::ws {

enum class read_event { need_more, text, binary, ping, pong, close, fail };

struct read_result {
    read_event event = read_event::need_more;
    size_t consumed = 0;               // input bytes used by this call (always advance by this)
    std::span<const uint8_t> payload;  // message or control payload; valid until the next call
    uint16_t close_code = 0;  // close: the peer's code (1005 if empty); fail: the code WE send
    std::string_view close_reason;  // close: the peer's reason; fail: short human text
};

// Largest message limit a reader accepts; set_message_bytes_max clamps to it.
constexpr size_t reader_message_bytes_limit = size_t{1} << 30;

class message_reader {
  public:
    // message_bytes_max caps one whole message (all fragments); larger ones fail with 1009.
    message_reader(role r, size_t message_bytes_max);
    ~message_reader();
    message_reader(message_reader&& other) noexcept;
    message_reader& operator=(message_reader&& other) noexcept;
    message_reader(const message_reader&) = delete;
    message_reader& operator=(const message_reader&) = delete;

    // Consumes bytes from the front of `input`, unmasking in place, and returns at most one event.
    // The caller advances input by `consumed` and calls again until need_more (which also may
    // consume bytes: a partial frame is copied into the internal buffer). A complete unfragmented
    // frame inside `input` is returned as a view into `input` (zero-copy); fragmented or split
    // messages are returned from the internal buffer. Either view is valid until the next call
    // (and while `input` is, for the first). After fail the reader stays failed.
    read_result next(std::span<uint8_t> input);

    // Bytes held for a partial frame or an unfinished fragmented message.
    size_t buffered_bytes() const;
    // Frees the internal buffer when nothing is buffered (for idle connections); invalidates a
    // payload returned from it.
    void release_buffer();
    void set_message_bytes_max(size_t n);
    size_t message_bytes_max() const { return _message_bytes_max; }
    bool failed() const { return _state == state_failed; }

  private:
    enum : uint8_t { state_header, state_payload, state_failed };

    bool check_text(size_t from, size_t to, bool defer);
    bool unchecked_text_invalid();
    bool read_header(std::span<uint8_t> input, size_t& position, read_result& result);
    bool validate_header(const uint8_t* header, read_result& result);
    bool reserve(size_t bytes);
    read_result deliver(opcode op, uint8_t* payload, size_t size, size_t consumed,
                        bool utf8_streamed);
    read_result fail(uint16_t code, const char* reason, size_t consumed);
    read_result fail_text(size_t consumed);

    uint8_t* _buffer = nullptr;  // [message so far][current frame's payload], heap, lazy
    uint32_t _buffer_capacity = 0;
    uint32_t _message_bytes_max = 0;
    uint32_t _message_size = 0;        // payload bytes of the fragmented message so far
    uint32_t _frame_payload_size = 0;  // current frame (validated, so it fits)
    uint32_t _frame_payload_have = 0;  // bytes of it already copied into _buffer
    uint8_t _mask_key[4] = {};
    uint8_t _header[frame_header_bytes_max] = {};  // a header split across reads
    uint8_t _header_have = 0;
    uint8_t _state = state_header;
    uint8_t _role;
    uint8_t _message_opcode = 0;  // opcode of the fragmented message in progress, 0 when none
    uint8_t _frame_opcode = 0;
    bool _frame_fin = false;
    uint16_t _fail_code = 0;
    // Text bytes at the end of the message so far not checked yet: fragments that completed in
    // the input next() is reading, checked in one pass with the next one. 0 between calls
    // (unless the reader failed).
    uint16_t _unchecked_text = 0;
    const char* _fail_reason = "";
};

// Every session holds one, idle or not (its buffer is allocated only while a message is split).
static_assert(sizeof(message_reader) <= 64, "a reader per connection slot: keep it small");

}  // namespace chorus::ws
