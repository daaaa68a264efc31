// A shard's output side (what Redis keeps apart in networking.c): admission to each connection's
// outbound queue (audio below the soft limit, control up to the hard limit), the per-pass flush
// that gives each connection one send for everything queued in the pass, close frames, and the
// frame builders. It owns no socket: without a loop (unit tests) frames simply stay queued. The
// audio path (queue_audio, queue, audio_frame, flush_pass) is all in this header.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/session.h"
#include "net/loop.h"
#include "ws/frame.h"

namespace chorus::core {

// Told before the writer closes a member's connection, so the member goes away or leaves as
// PROTOCOL.md §6 says. Rare (a close), so an interface is cheap here.
class close_listener {
  public:
    virtual ~close_listener() = default;
    virtual void on_member_closed(member& m, uint16_t code) = 0;
};

class session_writer {
  public:
    session_writer(const server_config& config, frame_pool& pool, shard_metrics& metrics);
    // `loop` sends and closes (null: nothing leaves the queues); `listener` outlives the writer.
    void bind(net::event_loop* loop, close_listener* listener);
    frame_pool& pool() { return _pool; }
    const server_config& config() const { return _config; }
    shard_metrics& metrics() { return _metrics; }
    uint32_t now_ms() const;  // ms since this writer (its shard) started

    // A new loop pass: what is queued from here on is this pass's.
    void begin_pass() { ++_pass_id; }
    // The end of a pass: one send per connection with queued frames.
    void flush_pass() {
        for (size_t i = 0; i < _dirty.size(); ++i) {  // a send may complete (and queue) at once
            session& s = *_dirty[i];
            s.dirty = false;
            if (s.phase != session_phase::free) flush(s);
        }
        _dirty.clear();
    }
    // A send completed with `result` bytes (or -errno). False: the connection failed.
    bool sent(session& s, int64_t result);

    // Queues a reference to `frame` (the caller keeps its own).
    void queue(session& s, shared_frame* frame) {
        if (s.pass_id != _pass_id) {
            s.pass_id = _pass_id;
            s.pass_bytes = 0;
        }
        s.pass_bytes += frame->size;
        s.out.push(_pool, frame);
        _metrics.frames_out.add();
        mark_dirty(s);
    }
    // Audio is lossy: a receiver whose backlog passed the soft limit loses this frame.
    void queue_audio(session& s, shared_frame* frame) {
        if (backlog(s) >= _config.send_queue_soft_bytes) {
            _metrics.audio_dropped_slow.add();
            return;
        }
        queue(s, frame);
        _metrics.audio_deliveries.add();
    }
    // Audio on a room's clock (--audio-batch): queued like queue_audio, but it goes out only
    // when release_held says the room's window is over (or with anything sent before then).
    void hold_audio(session& s, shared_frame* frame) {
        if (backlog(s) >= _config.send_queue_soft_bytes) {
            _metrics.audio_dropped_slow.add();
            return;
        }
        s.out.push(_pool, frame);
        s.held_bytes += frame->size;
        _metrics.frames_out.add();
        _metrics.audio_deliveries.add();
    }
    // The window of the session's room is over: what it holds goes out in this pass.
    void release_held(session& s) {
        if (s.held_bytes == 0) return;
        s.held_bytes = 0;
        _metrics.audio_windows.add();
        mark_dirty(s);
    }
    // Control is lossless: a receiver whose backlog would pass the hard limit is closed (1013).
    // Returns false if the session is (now) closed.
    bool queue_control(session& s, shared_frame* frame);
    void queue_bytes(session& s, std::string_view bytes);
    // Encodes `json` as a text frame and queues it as control.
    void send_text(session& s, std::string_view json);
    void send_error(session& s, std::string_view code, std::string_view message);
    // True when an error of this kind went out less than a second ago (this one is not sent).
    bool limited(session& s, limited_error which);

    // What a connection has failed to take: queued bytes that were waiting before this pass and
    // are not in the kernel's hands. A burst to a healthy receiver is no backlog; a receiver that
    // stops reading builds one at once, whether a send is in flight or not. Audio held for its
    // room's window counts: a receiver holds at most the soft limit of it.
    uint64_t backlog(const session& s) const {
        uint64_t fresh = s.pass_id == _pass_id ? s.pass_bytes : 0;
        uint64_t held = s.in_flight_bytes + fresh;
        return s.out.bytes() > held ? s.out.bytes() - held : 0;
    }

    // Queues a close frame; the connection closes once it is written (1013: at once).
    void close(session& s, uint16_t code, std::string_view reason);
    // The peer started the closing handshake: answer with its code.
    void answer_close(session& s, uint16_t code);
    // An HTTP response is queued: close after it.
    void finish_http(session& s);

    shared_frame* text_frame(std::string_view json);
    // The server's audio frame: op | from u32 BE | payload, as one binary WebSocket frame.
    shared_frame* audio_frame(uint8_t op, uint32_t from, std::span<const uint8_t> audio) {
        size_t body = 5 + audio.size();
        shared_frame* frame = _pool.allocate(body + 10);
        uint8_t* out = frame->data();
        size_t header = ws::encode_frame_header(out, ws::opcode::binary, body);
        out[header] = op;
        out[header + 1] = uint8_t(from >> 24);
        out[header + 2] = uint8_t(from >> 16);
        out[header + 3] = uint8_t(from >> 8);
        out[header + 4] = uint8_t(from);
        ws::copy_payload(out + header + 5, audio.data(), audio.size());
        frame->size = static_cast<uint32_t>(header + body);
        return frame;
    }
    // Bytes that are already a whole WebSocket frame (a pong, a frame from another node).
    shared_frame* copy_frame(std::string_view bytes);

  private:
    void mark_dirty(session& s) {
        if (s.dirty) return;
        s.dirty = true;
        _dirty.push_back(&s);
    }
    // One send with up to iov_max of the connection's queued frames (one in flight at a time).
    void flush(session& s) {
        if (s.sending || s.out.empty() || !_loop) return;
        iovec* iov = _iov.get();
        int count = s.out.fill(iov, net::event_loop::iov_max);
        if (count == 0 || !_loop->send(s.conn, iov, count)) return;
        s.sending = true;
        s.held_bytes = 0;  // held audio queued before now goes with this send
        uint64_t bytes = 0;
        for (int i = 0; i < count; ++i) bytes += iov[i].iov_len;
        s.in_flight_bytes = static_cast<uint32_t>(std::min<uint64_t>(bytes, UINT32_MAX));
        _metrics.sends.add();
    }

    const server_config& _config;
    frame_pool& _pool;
    shard_metrics& _metrics;
    net::event_loop* _loop = nullptr;
    close_listener* _listener = nullptr;
    std::vector<session*> _dirty;   // sessions with frames queued this pass
    std::unique_ptr<iovec[]> _iov;  // scratch for one flush
    uint64_t _epoch_ms;
    uint32_t _pass_id = 1;
};

}  // namespace chorus::core
