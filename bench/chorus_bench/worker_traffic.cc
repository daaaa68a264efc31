// Bench worker, traffic side: paced audio (rooms), windowed audio (flood), pipelined echoes, chat
// and whisper mixed in, churn with resume, and the receiver checks on everything that comes back
// (sender, per-sender order, duplicates, latency, event seq continuity).
#include <cstdio>
#include <cstring>
#include <string_view>

#include "bench/chorus_bench/worker.h"
#include "core/base/clock.h"
#include "ws/frame.h"

namespace chorus::bench {
namespace {

constexpr uint32_t pacing_burst_max = 8;   // frames a late sender may catch up in one pass
constexpr uint32_t flood_batch_max = 256;  // frames per speaker per pass
constexpr uint8_t op_room_audio = 0x01;
constexpr uint8_t op_room_audio_level = 0x03;  // v1.1: op, level, payload
constexpr uint8_t speaking_level = 30;         // -30 dBov: every speaker counts as speaking
constexpr uint8_t op_whisper_audio = 0x02;

// Top-level field lookups in the server's JSON (it writes compact JSON, and the first occurrence
// of a key is the top-level one for every message type that carries it).
bool json_u64(std::string_view text, std::string_view key, uint64_t* out) {
    size_t at = text.find(key);
    if (at == std::string_view::npos) return false;
    at += key.size();
    uint64_t value = 0;
    bool any = false;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        value = value * 10 + static_cast<uint64_t>(text[at++] - '0');
        any = true;
    }
    *out = value;
    return any;
}

std::string_view json_string(std::string_view text, std::string_view key) {
    size_t at = text.find(key);
    if (at == std::string_view::npos) return {};
    at += key.size();
    size_t end = text.find('"', at);
    return end == std::string_view::npos ? std::string_view{} : text.substr(at, end - at);
}

uint32_t read_be32(const uint8_t* in) {
    return (uint32_t{in[0]} << 24) | (uint32_t{in[1]} << 16) | (uint32_t{in[2]} << 8) | in[3];
}

}  // namespace

// Appends one masked frame whose payload is `body` (whole message, FIN set).
void worker::append_frame(uint32_t index, uint8_t op_code, const uint8_t* body, size_t size) {
    client_conn& c = _conns[index];
    uint64_t random = c.rng;
    random ^= random << 13;
    random ^= random >> 7;
    random ^= random << 17;
    c.rng = random;
    uint8_t key[4];
    std::memcpy(key, &random, 4);
    size_t header = ws::frame_header_size(size, true);
    size_t at = c.out.size();
    c.out.resize(at + header + size);
    uint8_t* frame = reinterpret_cast<uint8_t*>(c.out.data()) + at;
    ws::encode_frame_header(frame, static_cast<ws::opcode>(op_code), size, true, key);
    if (size) std::memcpy(frame + header, body, size);
    ws::apply_mask(frame + header, size, key);
    mark_dirty(index);
}

// One audio frame from speaker `index`: [0x01] + stamp + filler, built in the send buffer.
void worker::append_audio(uint32_t index, uint64_t now) {
    client_conn& c = _conns[index];
    room_state& room = _rooms[c.room];
    bool raw = _options.protocol == protocol_kind::raw;
    bool leveled = _options.seats > 0;
    size_t prefix = raw ? 0 : leveled ? 2 : 1;
    size_t size = prefix + _options.payload_bytes;
    if (_scratch.size() < size) _scratch.resize(size);
    _scratch[0] = leveled ? op_room_audio_level : op_room_audio;
    if (leveled) _scratch[1] = speaking_level;
    audio_stamp stamp{room.global, c.member, c.next_seq++, now};
    write_stamp(_scratch.data() + prefix, _options.payload_bytes, stamp);
    append_frame(index, static_cast<uint8_t>(ws::opcode::binary), _scratch.data(), size);
    ++_hot.sent;
    _hot.expected += room.joined - 1 + (raw && _options.self_echo ? 1 : 0);
}

void worker::send_text(uint32_t index, const std::string& json) {
    append_frame(index, static_cast<uint8_t>(ws::opcode::text),
                 reinterpret_cast<const uint8_t*>(json.data()), json.size());
}

void worker::start_senders(uint64_t start_ns) {
    _senders_started = true;
    _stats->series.start(start_ns);
    double rate = _options.rate;
    for (size_t i = 0; i < _speakers.size(); ++i) {
        uint64_t offset = pacer::stagger_ns(rate, i, _speakers.size());
        _conns[_speakers[i]].pace = pacer(rate, start_ns, offset, pacing_burst_max);
    }
    for (size_t r = 0; r < _rooms.size(); ++r) {
        if (_options.chat_rate > 0)
            _rooms[r].chat = pacer(_options.chat_rate, start_ns,
                                   pacer::stagger_ns(_options.chat_rate, r, _rooms.size()), 4);
        if (_options.whisper_rate > 0)
            _rooms[r].whisper =
                pacer(_options.whisper_rate, start_ns,
                      pacer::stagger_ns(_options.whisper_rate, r, _rooms.size()), 4);
    }
    _churn_pace = pacer(_options.churn_rate / _thread_count, start_ns, 0, 64);
}

void worker::send_due_traffic(uint64_t now) {
    int phase = _control->phase.load(std::memory_order_acquire);
    if (phase != static_cast<int>(run_phase::running)) return;
    uint64_t start = _control->send_start_ns.load(std::memory_order_acquire);
    if (!_senders_started) start_senders(start);
    if (now < start || now >= _control->send_stop_ns.load(std::memory_order_acquire)) return;
    switch (_options.scenario) {
        case scenario_kind::rooms:
            for (uint32_t index : _speakers) {
                client_conn& c = _conns[index];
                uint32_t due = c.pace.due(now);
                room_state& room = _rooms[c.room];
                if (c.phase != conn_phase::open || room.joined != room.members) continue;
                if (_options.seats > 0 && !c.seated) continue;
                for (uint32_t k = 0; k < due; ++k) append_audio(index, now);
            }
            for (room_state& room : _rooms) send_control_traffic(room, now);
            break;
        case scenario_kind::flood:
            for (uint32_t index : _speakers) {
                client_conn& c = _conns[index];
                room_state& room = _rooms[c.room];
                if (c.phase != conn_phase::open || room.joined != room.members) continue;
                uint64_t outstanding = c.next_seq - c.probe_seen;
                if (outstanding >= _options.window || c.sending) continue;
                uint64_t room_for =
                    std::min<uint64_t>(_options.window - outstanding, flood_batch_max);
                for (uint64_t k = 0; k < room_for; ++k) append_audio(index, now);
            }
            break;
        case scenario_kind::echo:
            if (_echo_started) break;
            _echo_started = true;
            for (uint32_t index = 0; index < _conns.size(); ++index)
                if (_conns[index].phase == conn_phase::open)
                    send_echoes(index, now, _options.depth);
            break;
        case scenario_kind::churn:
            churn_step(now);
            break;
        case scenario_kind::idle:
            break;
    }
}

void worker::send_control_traffic(room_state& room, uint64_t now) {
    if (room.joined != room.members || room.members < 2) return;
    uint32_t chats = _options.chat_rate > 0 ? room.chat.due(now) : 0;
    for (uint32_t k = 0; k < chats; ++k) {
        uint32_t from = room.first_conn + (room.chat_turn++ % room.members);
        send_text(from, "{\"type\":\"chat\",\"text\":\"bench chat\"}");
        _hot.control_expected += room.joined;
    }
    uint32_t whispers = _options.whisper_rate > 0 ? room.whisper.due(now) : 0;
    for (uint32_t k = 0; k < whispers; ++k) {
        uint32_t turn = room.chat_turn++;
        uint32_t from = room.first_conn + (turn % room.members);
        uint32_t to = room.first_conn + ((turn + 1) % room.members);
        send_text(from, "{\"type\":\"whisper\",\"to\":" + std::to_string(_conns[to].member_id) +
                            ",\"text\":\"bench whisper\"}");
        ++_hot.control_expected;
    }
}

// Echo: each message carries a stamp (seq per connection, send time); depth stay in flight.
void worker::send_echoes(uint32_t index, uint64_t now, uint32_t count) {
    client_conn& c = _conns[index];
    size_t size = std::max<size_t>(_options.message_bytes, stamp_bytes);
    if (_scratch.size() < size) _scratch.resize(size);
    for (uint32_t k = 0; k < count; ++k) {
        audio_stamp stamp{0, c.member, c.next_seq++, now};
        write_stamp(_scratch.data(), size, stamp);
        append_frame(index, static_cast<uint8_t>(ws::opcode::binary), _scratch.data(), size);
        ++_hot.sent;
        ++_hot.expected;
        ++_hot.echo_in_flight;
    }
}

void worker::on_binary(uint32_t index, std::span<const uint8_t> payload, uint64_t now) {
    client_conn& c = _conns[index];
    audio_stamp stamp;
    if (_options.scenario == scenario_kind::echo) {
        if (!read_stamp(payload, &stamp)) {
            note_error("short echo message");
            ++_stats->errors;
            return;
        }
        uint64_t skipped = 0;
        if (_checks[index].observe(stamp.seq, &skipped) == sequence_check::verdict::reordered)
            ++_hot.reorders;
        _hot.gaps += skipped;
        ++_hot.received;
        --_hot.echo_in_flight;
        record_latency(now, stamp.send_ns);
        int phase = _control->phase.load(std::memory_order_relaxed);
        if (phase == static_cast<int>(run_phase::running) &&
            now < _control->send_stop_ns.load(std::memory_order_relaxed))
            send_echoes(index, now, 1);
        return;
    }
    uint32_t from = 0;
    if (_options.protocol == protocol_kind::chorus) {
        if (payload.size() < 5 || (payload[0] != op_room_audio && payload[0] != op_whisper_audio)) {
            note_error("malformed audio frame from the server");
            ++_stats->errors;
            return;
        }
        from = read_be32(payload.data() + 1);
        payload = payload.subspan(5);
    }
    room_state& room = _rooms[c.room];
    uint32_t speakers = std::max<uint32_t>(_options.speakers, 1);
    if (!read_stamp(payload, &stamp) || stamp.room != room.global || stamp.speaker >= speakers) {
        note_error("audio frame from another room or an unknown sender");
        ++_stats->errors;
        return;
    }
    const client_conn& sender = _conns[room.first_conn + stamp.speaker];
    if (_options.protocol == protocol_kind::chorus && from != sender.member_id) {
        note_error("audio frame whose 'from' is not its sender's member id");
        ++_stats->errors;
        return;
    }
    uint64_t skipped = 0;
    sequence_check& check = _checks[size_t{index} * speakers + stamp.speaker];
    if (check.observe(stamp.seq, &skipped) == sequence_check::verdict::reordered) ++_hot.reorders;
    _hot.gaps += skipped;
    ++_hot.received;
    record_latency(now, stamp.send_ns);
    if (c.member + 1 == room.members) {  // the room's probe paces flood senders
        client_conn& speaker = _conns[room.first_conn + stamp.speaker];
        if (stamp.seq + 1 > speaker.probe_seen) speaker.probe_seen = stamp.seq + 1;
    }
}

// --seats: a speaker asks for any seat once the room has them, and talks once it sits. `text` is
// a welcome or a seats event (whose list names it once it sits).
void worker::take_seat_when_open(uint32_t index, std::string_view text) {
    client_conn& c = _conns[index];
    if (c.seated) return;
    size_t list = text.find("\"list\":[");  // the seats (a welcome's members are "members")
    if (list == std::string_view::npos) return;
    std::string_view seats = text.substr(list, text.find(']', list) - list);
    std::string sitting = "\"member\":" + std::to_string(c.member_id) + ",";
    if (seats.find(sitting) != std::string_view::npos) {
        c.seated = true;
        return;
    }
    if (c.seat_asked || text.find("\"count\":0,") != std::string_view::npos) return;
    c.seat_asked = true;
    send_text(index, "{\"type\":\"take_seat\"}");
}

void worker::on_text(uint32_t index, std::string_view text, uint64_t now) {
    client_conn& c = _conns[index];
    std::string_view type = json_string(text, "\"type\":\"");
    if (type == "welcome") {
        uint64_t member = 0, seq = 0;
        json_u64(text, "\"member\":", &member);
        json_u64(text, "\"seq\":", &seq);
        bool resumed = text.find("\"resumed\":true") != std::string_view::npos;
        if (c.churner) {
            _stats->handshake.record(now - c.connect_ns);
            ++_stats->joins;
            if (c.expect_resume) {
                if (resumed && member == c.member_id) {
                    ++_stats->resumes;
                } else {
                    ++_stats->resume_failures;
                    note_error("resume did not restore the member: " +
                               std::string(text.substr(0, 160)));
                }
            }
        }
        // A resumed welcome is followed by the replay from our last seq; a fresh one starts here.
        if (!resumed) c.event_seq = seq;
        c.member_id = static_cast<uint32_t>(member);
        c.resume = std::string(json_string(text, "\"resume\":\""));
        if (_options.seats > 0 && !c.churner) {
            if (c.member == 0)
                send_text(index,
                          "{\"type\":\"seats\",\"count\":" + std::to_string(_options.seats) + "}");
            if (c.member < _options.speakers) take_seat_when_open(index, text);
        }
        on_joined(index, now);
        return;
    }
    if (type == "seats" && _options.seats > 0 && c.member < _options.speakers && !c.churner)
        take_seat_when_open(index, text);
    if (type == "whisper") {
        ++_hot.control_received;
        return;
    }
    if (type == "error") {
        ++_stats->errors;
        note_error("server error message: " + std::string(text.substr(0, 200)));
        return;
    }
    uint64_t seq = 0;
    if (!json_u64(text, "\"seq\":", &seq)) return;  // pong, or something without seq
    if (c.event_seq != 0 && seq != c.event_seq + 1) {
        ++_stats->seq_gaps;
        note_error("room event seq jumped from " + std::to_string(c.event_seq) + " to " +
                   std::to_string(seq));
    }
    c.event_seq = seq;
    if (type == "chat") ++_hot.control_received;
}

void worker::on_joined(uint32_t index, uint64_t) {
    client_conn& c = _conns[index];
    c.joined = true;
    bool first = !c.churner || c.cycles == 0;
    if (first) {
        ++_settled;
        ++_stats->joined;
    }
    if (c.churner) {
        ++c.cycles;
    } else if (_options.scenario != scenario_kind::echo) {
        ++_rooms[c.room].joined;
    }
}

// Churn: each due step takes the next joined churner out, alternately with a close frame (it
// leaves; it comes back as a new member) and by dropping the socket (it comes back with resume
// and must get its member id back). It reconnects as soon as the old socket is closed.
void worker::churn_step(uint64_t now) {
    if (_churners.empty()) return;
    uint32_t due = _churn_pace.due(now);
    for (uint32_t k = 0; k < due; ++k) {
        uint32_t index = _churners[_churn_turn++ % _churners.size()];
        client_conn& c = _conns[index];
        if (!c.joined || c.phase != conn_phase::open || c.sending) continue;
        bool drop = c.cycles % 2 == 1;
        c.expect_resume = drop;
        c.phase = conn_phase::closing;
        if (drop) {
            _loop->close(c.handle, net::close_mode::abort);
        } else {
            uint8_t payload[2] = {0x03, 0xe8};
            append_frame(index, static_cast<uint8_t>(ws::opcode::close), payload, 2);
            flush(index);
            _loop->close(c.handle, net::close_mode::graceful);
        }
    }
}

void worker::record_latency(uint64_t now, uint64_t send_ns) {
    if (now <= send_ns) return;
    _stats->latency.record(now - send_ns);
    _stats->series.record_latency(now, now - send_ns);
}

// The counters' gains since the last call go to the timeline bucket of `now`: called every
// series_interval_ns and when sending stops, so a bucket is off by at most one interval.
void worker::record_series(uint64_t now) {
    _last_series_ns = now;
    _stats->series.record_counters(
        now, timeline_counters{_hot.sent, _hot.expected + _hot.control_expected,
                               _hot.received + _hot.control_received, _hot.gaps});
}

void worker::publish_progress() {
    _stats->sent.store(_hot.sent, std::memory_order_relaxed);
    _stats->expected.store(_hot.expected, std::memory_order_relaxed);
    _stats->received.store(_hot.received, std::memory_order_relaxed);
    _stats->reorders.store(_hot.reorders, std::memory_order_relaxed);
    _stats->gaps.store(_hot.gaps, std::memory_order_relaxed);
    _stats->control_expected.store(_hot.control_expected, std::memory_order_relaxed);
    _stats->control_received.store(_hot.control_received, std::memory_order_relaxed);
    _stats->echo_in_flight.store(_hot.echo_in_flight, std::memory_order_relaxed);
    _stats->p50_ns.store(_stats->latency.percentile(50), std::memory_order_relaxed);
    _stats->p99_ns.store(_stats->latency.percentile(99), std::memory_order_relaxed);
}

}  // namespace chorus::bench
