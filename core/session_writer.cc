// The session writer: queue admission, the per-pass flush, close frames and frame builders.
#include "core/session_writer.h"

#include <algorithm>
#include <cstring>

#include "core/base/clock.h"
#include "core/limits.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace chorus::core {

session_writer::session_writer(const server_config& config, frame_pool& pool,
                               shard_metrics& metrics)
    : _config(config),
      _pool(pool),
      _metrics(metrics),
      _iov(new iovec[net::event_loop::iov_max]),
      _epoch_ms(base::monotonic_ms()) {}

void session_writer::bind(net::event_loop* loop, close_listener* listener) {
    _loop = loop;
    _listener = listener;
}

uint32_t session_writer::now_ms() const {
    return static_cast<uint32_t>(base::monotonic_ms() - _epoch_ms);
}

bool session_writer::sent(session& s, int64_t result) {
    s.sending = false;
    s.in_flight_bytes = 0;
    if (result < 0) return false;
    _metrics.bytes_out.add(static_cast<uint64_t>(result));
    s.out.consume(_pool, static_cast<uint64_t>(result));
    if (!s.out.empty()) {
        // Audio that only waits for its room's window stays until then.
        if (s.out.bytes() > s.held_bytes) mark_dirty(s);
        return true;
    }
    if (s.close_queued) {
        // Everything up to and including our close frame (or final response) is written.
        _loop->close(s.conn, net::close_mode::graceful);
        s.phase = session_phase::closing;
    }
    return true;
}

bool session_writer::queue_control(session& s, shared_frame* frame) {
    if (s.phase != session_phase::websocket) return false;
    // The echo endpoint carries messages of up to 16 MiB: it may hold two of them.
    uint64_t hard = s.kind == session_kind::echo ? std::max<uint64_t>(_config.send_queue_hard_bytes,
                                                                      2 * echo_message_bytes_max)
                                                 : _config.send_queue_hard_bytes;
    if (backlog(s) + frame->size > hard) {
        close(s, 1013, "slow consumer");
        return false;
    }
    queue(s, frame);
    return true;
}

void session_writer::queue_bytes(session& s, std::string_view bytes) {
    shared_frame* frame = copy_frame(bytes);
    queue(s, frame);
    _pool.release(frame);
}

void session_writer::send_text(session& s, std::string_view json) {
    shared_frame* frame = text_frame(json);
    queue_control(s, frame);
    _pool.release(frame);
}

void session_writer::send_error(session& s, std::string_view code, std::string_view message) {
    std::string json = "{\"type\":\"error\",\"code\":\"";
    json += code;
    json += "\",\"message\":\"";
    ws::append_json_escaped(json, message);
    json += "\"}";
    send_text(s, json);
}

bool session_writer::limited(session& s, limited_error which) {
    uint32_t now = now_ms() + 1;  // 0 means "never sent"
    uint32_t& last = s.error_second[static_cast<int>(which)];
    if (last != 0 && now - last < 1000) return true;
    last = now;
    return false;
}

// A member whose session the server closes leaves or goes away according to PROTOCOL.md §6.
void session_writer::close(session& s, uint16_t code, std::string_view reason) {
    if (s.phase != session_phase::websocket) return;
    _metrics.count_close(code);
    s.close_code = code;
    if (s.self && _listener) _listener->on_member_closed(*s.self, code);
    s.phase = session_phase::closing;
    s.close_queued = true;
    s.closing_since_ms = now_ms() | 1;
    if (code == 1013) {
        // A slow consumer will not read what is queued: close at once. The queue is freed when
        // the loop reports the close, after any send in flight has let go of its bytes.
        if (_loop) _loop->close(s.conn, net::close_mode::abort);
        return;
    }
    std::string bytes;
    ws::append_close_frame(bytes, code, reason.substr(0, 120));
    queue_bytes(s, bytes);
}

void session_writer::answer_close(session& s, uint16_t code) {
    uint16_t reply = code == 1005 ? 1000 : code;
    _metrics.count_close(reply);
    s.close_code = reply;
    s.phase = session_phase::closing;
    s.close_queued = true;
    s.closing_since_ms = now_ms() | 1;
    std::string bytes;
    ws::append_close_frame(bytes, code == 1005 ? 0 : reply, {});
    queue_bytes(s, bytes);
}

void session_writer::finish_http(session& s) {
    s.close_queued = true;
    s.closing_since_ms = now_ms() | 1;
    s.http_in.reset();
}

shared_frame* session_writer::text_frame(std::string_view json) {
    return make_text_frame(_pool, json);
}

shared_frame* session_writer::copy_frame(std::string_view bytes) {
    shared_frame* frame = _pool.allocate(bytes.size());
    std::memcpy(frame->data(), bytes.data(), bytes.size());
    frame->size = static_cast<uint32_t>(bytes.size());
    return frame;
}

}  // namespace chorus::core
