// A TLS 1.3 server session's own record path (after adopt_records): cutting the ciphertext
// stream into records (a record split across receives waits in a buffer that is freed once it is
// whole), opening them, and answering what may follow a handshake: application data, alerts and
// KeyUpdate (RFC 8446 §4.6.3, §6). Anything else is a fatal alert, as OpenSSL would send.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/base/assert.h"
#include "net/tls/tls_session.h"

namespace chorus::net::tls {

namespace {

// Alert descriptions (RFC 8446 §6).
constexpr uint8_t close_notify = 0;
constexpr uint8_t unexpected_message = 10;
constexpr uint8_t bad_record_mac = 20;
constexpr uint8_t record_overflow = 22;
constexpr uint8_t illegal_parameter = 47;
constexpr uint8_t decode_error = 50;
constexpr uint8_t internal_error = 80;
constexpr uint8_t user_canceled = 90;

constexpr uint8_t key_update = 24;  // the handshake message type

// Records in a row that carry no data (KeyUpdates, empty records, user_canceled) before the
// peer is cut off, as OpenSSL does: each costs us work and carries nothing.
constexpr uint8_t records_without_data_max = 32;

size_t body_length(const uint8_t* header) {
    return static_cast<size_t>(header[3]) << 8 | header[4];
}

}  // namespace

bool tls_session::seal(const iovec* iov, int iov_count, content_type type) {
    size_t before = _output.size();
    bool ok = _records->seal(_output, iov, iov_count, type);
    if (!ok) _output.resize(before);
    _output_total += _output.size() - before;
    return ok;
}

tls_status tls_session::send(const iovec* iov, int iov_count) {
    CHORUS_ASSERT(_records != nullptr);
    if (_failed) return tls_status::failed;
    // A KeyUpdate the peer asked for goes out before our next data (RFC 8446 §4.6.3), one
    // for any number of requests, so a peer cannot make us write without our sending data; a
    // spent key is replaced the same way.
    if (_key_update_owed || _records->write_key_spent()) {
        static const uint8_t update[] = {key_update, 0, 0, 1, 0};  // update_not_requested
        iovec message{const_cast<uint8_t*>(update), sizeof(update)};
        if (!seal(&message, 1, content_type::handshake) || !_records->update_write_key())
            return fail_records(0, "TLS write: the KeyUpdate failed");
        _key_update_owed = false;
    }
    if (!seal(iov, iov_count, content_type::application_data))
        return fail_records(0, "TLS write: the cipher failed");
    return tls_status::ok;
}

// Fails the session; with `alert` non-zero, a fatal alert for the peer goes out first.
tls_status tls_session::fail_records(uint8_t alert, const char* why) {
    _failed = true;
    _error = why;
    ERR_clear_error();
    if (alert != 0) {
        uint8_t fatal[] = {2, alert};
        iovec message{fatal, sizeof(fatal)};
        seal(&message, 1, content_type::alert);
    }
    return tls_status::failed;
}

tls_status tls_session::check_header(const uint8_t* header) {
    // After the handshake every record is protected and its outer type application_data.
    if (header[0] != static_cast<uint8_t>(content_type::application_data))
        return fail_records(unexpected_message,
                            "TLS read: an unprotected record after the handshake");
    size_t length = body_length(header);
    if (length > tls13_records::max_ciphertext)
        return fail_records(record_overflow, "TLS read: a record over 16 KiB + 256");
    if (length < tls13_records::tag_bytes + 1)
        return fail_records(decode_error, "TLS read: a record too short to be protected");
    return tls_status::ok;
}

tls_status tls_session::receive_records(std::span<const uint8_t> in, std::span<uint8_t> scratch,
                                        void* sink, sink_call call) {
    CHORUS_ASSERT(scratch.size() >= receive_scratch_bytes);
    constexpr size_t header = tls13_records::header_bytes;
    for (;;) {
        std::span<const uint8_t> record;
        if (_partial.empty()) {
            if (in.empty()) return tls_status::ok;
            if (in.size() >= header) {
                if (tls_status bad = check_header(in.data()); bad != tls_status::ok) return bad;
                size_t whole = header + body_length(in.data());
                if (in.size() >= whole) {
                    record = in.first(whole);
                    in = in.subspan(whole);
                }
            }
            if (record.empty()) {  // the start of a record: wait for the rest
                _partial.assign(reinterpret_cast<const char*>(in.data()), in.size());
                return tls_status::ok;
            }
        } else {
            for (;;) {
                const auto* held = reinterpret_cast<const uint8_t*>(_partial.data());
                size_t want = _partial.size() < header ? header : header + body_length(held);
                if (_partial.size() == want) break;
                size_t take = std::min(want - _partial.size(), in.size());
                if (take == 0) return tls_status::ok;
                _partial.append(reinterpret_cast<const char*>(in.data()), take);
                in = in.subspan(take);
                if (_partial.size() == header) {
                    tls_status bad =
                        check_header(reinterpret_cast<const uint8_t*>(_partial.data()));
                    if (bad != tls_status::ok) return bad;
                }
            }
            record = {reinterpret_cast<const uint8_t*>(_partial.data()), _partial.size()};
        }
        bool stop = false;
        tls_status status = open_record(record, scratch, sink, call, &stop);
        if (!_partial.empty()) std::string().swap(_partial);  // an idle session keeps no buffer
        if (status != tls_status::ok || stop) return status;
    }
}

// One whole record: its content goes to the sink, or is an alert or a KeyUpdate. `stop` is set
// when the sink wants no more (the rest of the input is dropped).
tls_status tls_session::open_record(std::span<const uint8_t> record, std::span<uint8_t> scratch,
                                    void* sink, sink_call call, bool* stop) {
    size_t length = 0;
    uint8_t type = 0;
    switch (_records->open(record, scratch, &length, &type)) {
        case tls13_records::open_status::ok:
            break;
        case tls13_records::open_status::too_long:
            return fail_records(record_overflow, "TLS read: a record's content over 16 KiB + 1");
        case tls13_records::open_status::bad_mac:
            return fail_records(bad_record_mac, "TLS read: a record did not decrypt");
    }
    std::span<const uint8_t> content = scratch.first(length);
    bool data = type == static_cast<uint8_t>(content_type::application_data) && length > 0;
    _records_without_data = data ? 0 : _records_without_data + 1;
    if (_records_without_data > records_without_data_max)
        return fail_records(unexpected_message, "TLS read: too many records without data");
    switch (static_cast<content_type>(type)) {
        case content_type::application_data:
            if (length > 0 && !call(sink, scratch.first(length))) *stop = true;
            return tls_status::ok;
        case content_type::alert:
            return on_alert(content);
        case content_type::handshake:
            return on_key_update(content);
    }
    return fail_records(unexpected_message, "TLS read: a record of no known content type");
}

tls_status tls_session::on_alert(std::span<const uint8_t> alert) {
    if (alert.empty()) return fail_records(unexpected_message, "TLS read: an empty alert record");
    if (alert.size() != 2) return fail_records(decode_error, "TLS read: a malformed alert");
    if (alert[1] == close_notify) {
        _peer_closed = true;
        return tls_status::peer_closed;
    }
    if (alert[1] == user_canceled) return tls_status::ok;  // a close_notify follows
    _failed = true;
    _error = "TLS read: the peer sent alert " + std::to_string(alert[1]);
    return tls_status::failed;
}

// After the handshake a client may send only KeyUpdate (no tickets, no renegotiation in TLS
// 1.3), whole in its record and last in it, since a handshake message may not span a key change.
// (A KeyUpdate split across records would be legal; no TLS stack sends one, and it is refused.)
tls_status tls_session::on_key_update(std::span<const uint8_t> message) {
    if (message.size() < 4 || message[0] != key_update)
        return fail_records(unexpected_message,
                            "TLS read: a handshake message after the handshake that is not a "
                            "whole KeyUpdate");
    if (message.size() != 5 || message[1] != 0 || message[2] != 0 || message[3] != 1)
        return fail_records(decode_error, "TLS read: a malformed KeyUpdate");
    if (message[4] > 1) return fail_records(illegal_parameter, "TLS read: a KeyUpdate asking 2+");
    if (!_records->update_read_key())
        return fail_records(internal_error, "TLS read: the KeyUpdate's key derivation failed");
    if (message[4] == 1) _key_update_owed = true;  // ours goes out before our next data
    return tls_status::ok;
}

}  // namespace chorus::net::tls
