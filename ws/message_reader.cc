// The RFC 6455 reader state machine. A frame goes header -> payload -> event. The payload of a
// complete unfragmented frame found inside the caller's input is unmasked and returned in place;
// anything split across reads, or a fragment of a message, is copied into one lazily allocated
// buffer laid out as [message so far][current frame payload], bounded by the message limit (plus
// one control payload) because every limit is decided from the header before any payload is kept.
#include "ws/message_reader.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/base/assert.h"
#include "ws/utf8.h"

namespace chorus::ws {
namespace {

static_assert(reader_message_bytes_limit + control_payload_bytes_max < UINT32_MAX);

// Header length implied by its first two bytes.
size_t header_size_from(uint8_t second_byte) {
    const uint8_t length_code = second_byte & 0x7F;
    size_t size = 2;
    if (length_code == 126) size += 2;
    if (length_code == 127) size += 8;
    return size + ((second_byte & 0x80) != 0 ? 4 : 0);
}

// Most text left for one SIMD pass over many small fragments (what _unchecked_text can hold);
// a longer run is checked as it goes, where one call per fragment costs little.
constexpr size_t unchecked_text_bytes_max = UINT16_MAX;

bool reserved_opcode(uint8_t op) {
    return (op >= 3 && op <= 7) || op >= 11;
}

}  // namespace

message_reader::message_reader(role r, size_t message_bytes_max) : _role(static_cast<uint8_t>(r)) {
    set_message_bytes_max(message_bytes_max);
}

message_reader::~message_reader() {
    std::free(_buffer);
}

message_reader::message_reader(message_reader&& other) noexcept : _role(other._role) {
    *this = std::move(other);
}

message_reader& message_reader::operator=(message_reader&& other) noexcept {
    if (this == &other) return *this;
    std::free(_buffer);
    _buffer = std::exchange(other._buffer, nullptr);
    _buffer_capacity = std::exchange(other._buffer_capacity, 0);
    _message_bytes_max = other._message_bytes_max;
    _message_size = std::exchange(other._message_size, 0);
    _frame_payload_size = other._frame_payload_size;
    _frame_payload_have = std::exchange(other._frame_payload_have, 0);
    std::memcpy(_mask_key, other._mask_key, sizeof(_mask_key));
    std::memcpy(_header, other._header, sizeof(_header));
    _header_have = std::exchange(other._header_have, 0);
    _state = std::exchange(other._state, state_header);
    _role = other._role;
    _message_opcode = std::exchange(other._message_opcode, 0);
    _frame_opcode = other._frame_opcode;
    _frame_fin = other._frame_fin;
    _fail_code = other._fail_code;
    _unchecked_text = std::exchange(other._unchecked_text, 0);
    _fail_reason = other._fail_reason;
    return *this;
}

static_assert(sizeof(message_reader) <= 64);

void message_reader::set_message_bytes_max(size_t n) {
    _message_bytes_max = static_cast<uint32_t>(std::min(n, reader_message_bytes_limit));
}

size_t message_reader::buffered_bytes() const {
    size_t bytes = size_t{_header_have} + _message_size;
    if (_state == state_payload) bytes += _frame_payload_have;
    return bytes;
}

void message_reader::release_buffer() {
    if (buffered_bytes() != 0) return;
    std::free(_buffer);
    _buffer = nullptr;
    _buffer_capacity = 0;
}

read_result message_reader::fail(uint16_t code, const char* reason, size_t consumed) {
    _state = state_failed;
    _fail_code = code;
    _fail_reason = reason;
    read_result result;
    result.event = read_event::fail;
    result.consumed = consumed;
    result.close_code = code;
    result.close_reason = reason;
    return result;
}

read_result message_reader::fail_text(size_t consumed) {
    return fail(1007, "text is not UTF-8", consumed);
}

bool message_reader::reserve(size_t bytes) {
    if (bytes <= _buffer_capacity) return true;
    // Grow geometrically (many small fragments stay linear) but never past limit + a control frame.
    const size_t ceiling = size_t{_message_bytes_max} + control_payload_bytes_max;
    size_t capacity =
        std::max<size_t>(bytes, std::min<size_t>(size_t{_buffer_capacity} * 2, ceiling));
    capacity = std::max<size_t>(capacity, 256);
    void* grown = std::realloc(_buffer, capacity);
    if (grown == nullptr) return false;
    _buffer = static_cast<uint8_t*>(grown);
    _buffer_capacity = static_cast<uint32_t>(capacity);
    return true;
}

// Completes the frame header from `input` (or from bytes kept by earlier calls) and validates it.
// Returns false with `result` set when the caller must return: need_more or fail.
bool message_reader::read_header(std::span<uint8_t> input, size_t& position, read_result& result) {
    const size_t available = input.size() - position;
    const uint8_t* header = nullptr;
    if (_header_have == 0 && available >= 2 && available >= header_size_from(input[position + 1])) {
        header = input.data() + position;  // common case: the whole header is in this input
        position += header_size_from(input[position + 1]);
    } else {
        while (true) {
            const size_t need = _header_have < 2 ? 2 : header_size_from(_header[1]);
            if (_header_have >= need) break;
            const size_t take = std::min(need - _header_have, input.size() - position);
            std::memcpy(_header + _header_have, input.data() + position, take);
            _header_have = static_cast<uint8_t>(_header_have + take);
            position += take;
            if (_header_have < need) {
                result.consumed = position;
                return false;
            }
        }
        header = _header;
        _header_have = 0;
    }
    if (!validate_header(header, result)) {
        result.consumed = position;
        return false;
    }
    return true;
}

// Applies the per-frame rules of RFC 6455 5.2-5.5 and records the frame. On a violation the
// reader fails and `result` holds the failure.
bool message_reader::validate_header(const uint8_t* header, read_result& result) {
    const bool fin = (header[0] & 0x80) != 0;
    const uint8_t op = header[0] & 0x0F;
    const bool masked = (header[1] & 0x80) != 0;
    const uint8_t length_code = header[1] & 0x7F;
    const char* length_problem = nullptr;
    uint64_t length = length_code;
    size_t offset = 2;
    if (length_code == 126) {
        length = (uint64_t{header[2]} << 8) | header[3];
        offset = 4;
        if (length < 126) length_problem = "non-minimal 16-bit length";
    } else if (length_code == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | header[2 + i];
        offset = 10;
        if ((length >> 63) != 0) {
            length_problem = "64-bit length with the top bit set";
        } else if (length <= 0xFFFF) {
            length_problem = "non-minimal 64-bit length";
        }
    }
    const bool server = _role == static_cast<uint8_t>(role::server);
    const char* problem = nullptr;
    uint16_t code = 1002;
    if ((header[0] & 0x70) != 0) {
        problem = "reserved bits set";
    } else if (reserved_opcode(op)) {
        problem = "reserved opcode";
    } else if (server && !masked) {
        problem = "unmasked frame from a client";
    } else if (!server && masked) {
        problem = "masked frame from a server";
    } else if (length_problem != nullptr) {
        problem = length_problem;
    } else if (op >= 8 && !fin) {
        problem = "fragmented control frame";
    } else if (op >= 8 && length > control_payload_bytes_max) {
        problem = "control frame too long";
    } else if (op == 0 && _message_opcode == 0) {
        problem = "continuation without a message";
    } else if (op != 0 && op < 8 && _message_opcode != 0) {
        problem = "new message inside a fragmented one";
    } else if (op < 8 && _message_size + length > _message_bytes_max) {
        problem = "message too big";
        code = 1009;
    }
    if (problem != nullptr) {
        result = fail(code, problem, 0);
        return false;
    }
    if (masked) std::memcpy(_mask_key, header + offset, 4);
    _frame_opcode = op;
    _frame_fin = fin;
    _frame_payload_size = static_cast<uint32_t>(length);
    _frame_payload_have = 0;
    if ((op == 1 || op == 2) && !fin) _message_opcode = op;
    _state = state_payload;
    return true;
}

// Returns the event for a complete payload. Text that came through the buffer was checked as it
// arrived (utf8_streamed) and only may not end inside a character; text returned in place is
// checked whole here.
read_result message_reader::deliver(opcode op, uint8_t* payload, size_t size, size_t consumed,
                                    bool utf8_streamed) {
    read_result result;
    result.consumed = consumed;
    result.payload = std::span<const uint8_t>(payload, size);
    switch (op) {
        case opcode::text:
            if (utf8_streamed ? !utf8_ends_whole(payload, size) : !valid_utf8(payload, size)) {
                return fail_text(consumed);
            }
            result.event = read_event::text;
            break;
        case opcode::binary:
            result.event = read_event::binary;
            break;
        case opcode::ping:
            result.event = read_event::ping;
            break;
        case opcode::pong:
            result.event = read_event::pong;
            break;
        case opcode::close:
            result.event = read_event::close;
            if (size == 0) {
                result.close_code = 1005;
                break;
            }
            if (size == 1) return fail(1002, "close payload of one byte", consumed);
            result.close_code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
            if (!valid_close_code(result.close_code)) {
                return fail(1002, "invalid close code", consumed);
            }
            if (!valid_utf8(payload + 2, size - 2)) {
                return fail(1007, "close reason is not UTF-8", consumed);
            }
            result.close_reason =
                std::string_view(reinterpret_cast<const char*>(payload + 2), size - 2);
            break;
        case opcode::continuation:
            CHORUS_ASSERT(false);
            break;
    }
    return result;
}

// Checks text just copied into _buffer[from, to), with any left unchecked before it. When
// another fragment follows in this input (defer), a small run is left for that fragment's check
// instead: one SIMD pass for many small fragments. False when the text can no longer be valid.
// This and the next are kept out of next() so that complete frames read in place, the audio
// path, run the same code as before they existed (inlined, they cost ~1 ns a frame, measured).
[[gnu::noinline]] bool message_reader::check_text(size_t from, size_t to, bool defer) {
    from -= _unchecked_text;  // it ends where this fragment starts
    if (defer && to - from <= unchecked_text_bytes_max) {
        _unchecked_text = static_cast<uint16_t>(to - from);
        return true;
    }
    _unchecked_text = 0;
    return utf8_prefix_error(_buffer, from, to) == utf8_prefix_ok;
}

// True when text left unchecked by check_text cannot be valid. Called where next() returns
// before the next fragment's payload (its header cut short or refused, no payload yet), so that
// bad text fails the call that brought it, ahead of any error after it.
[[gnu::noinline]] bool message_reader::unchecked_text_invalid() {
    if (_unchecked_text == 0) return false;
    const size_t from = _message_size - std::exchange(_unchecked_text, 0);
    return utf8_prefix_error(_buffer, from, _message_size) != utf8_prefix_ok;
}

read_result message_reader::next(std::span<uint8_t> input) {
    if (_state == state_failed) return fail(_fail_code, _fail_reason, 0);
    size_t position = 0;
    while (true) {
        read_result result;
        if (_state == state_header && !read_header(input, position, result)) {
            if (_unchecked_text != 0 && unchecked_text_invalid()) return fail_text(position);
            return result;
        }
        const size_t available = input.size() - position;
        const size_t size = _frame_payload_size;
        const bool masked = _role == static_cast<uint8_t>(role::server);
        const auto op = static_cast<opcode>(_frame_opcode);
        const bool joins_message = !is_control(op) && _message_opcode != 0;
        if (!joins_message && _frame_payload_have == 0 && available >= size) {
            uint8_t* payload = input.data() + position;  // zero-copy: unmask in place
            if (masked) apply_mask(payload, size, _mask_key);
            _state = state_header;
            return deliver(op, payload, size, position + size, false);
        }
        if (available == 0 && size > 0) {  // nothing to keep yet: allocate when bytes arrive
            result.consumed = position;
            if (_unchecked_text != 0 && unchecked_text_invalid()) return fail_text(position);
            return result;
        }
        // The payload goes after the message so far: a fragment extends it, a control frame or
        // a split unfragmented frame sits there until returned.
        if (_frame_payload_have == 0 && !reserve(size_t{_message_size} + size)) {
            return fail(1011, "out of memory", position);
        }
        const size_t take = std::min<size_t>(available, size - _frame_payload_have);
        const size_t text_checked = size_t{_message_size} + _frame_payload_have;
        copy_payload(_buffer + text_checked, input.data() + position, take,
                     masked ? _mask_key : nullptr, _frame_payload_have);
        _frame_payload_have += static_cast<uint32_t>(take);
        position += take;
        // Text is checked as it arrives, so that a bad byte closes the connection now rather than
        // when the message ends (it starts at _buffer: a text frame alone has no message before).
        const auto data_op = joins_message ? static_cast<opcode>(_message_opcode) : op;
        // Another fragment next in this input: its text and this one's are checked together.
        const bool fragment_follows = joins_message && _frame_payload_have == size && !_frame_fin &&
                                      position < input.size() && (input[position] & 0x0F) == 0;
        if (data_op == opcode::text &&
            !check_text(text_checked, text_checked + take, fragment_follows)) {
            return fail_text(position);
        }
        if (_frame_payload_have < size) {
            result.consumed = position;
            return result;
        }
        _state = state_header;
        if (!joins_message) return deliver(op, _buffer + _message_size, size, position, true);
        _message_size += static_cast<uint32_t>(size);
        if (!_frame_fin) continue;  // more fragments to come: keep reading this input
        const auto message_op = static_cast<opcode>(_message_opcode);
        const size_t message_size = _message_size;
        _message_size = 0;
        _message_opcode = 0;
        return deliver(message_op, _buffer, message_size, position, true);
    }
}

}  // namespace chorus::ws
