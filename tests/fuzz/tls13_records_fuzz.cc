// libFuzzer target for the records a TLS 1.3 server session opens itself (net/tls/
// tls_session_records.cc): the input scripts a peer that seals well-formed records of any content
// type, padding and length, sends KeyUpdates (announced or not), and splices raw bytes between
// them; the stream arrives cut at points the input chooses. The session must stay ok, closed or
// failed, never crash, never hand out more plaintext than was sealed, and stay failed once failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/tls/tls13_records.h"
#include "net/tls/tls_session.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

struct input {
    const uint8_t* data;
    size_t size;
    size_t at = 0;
    bool empty() const { return at >= size; }
    uint8_t byte() { return at < size ? data[at++] : 0; }
    std::string bytes(size_t n) {
        n = std::min(n, size - std::min(at, size));
        std::string out(reinterpret_cast<const char*>(data + at), n);
        at += n;
        return out;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::net::tls;
    input in{data, size};
    auto suite = static_cast<tls13_suite>(in.byte() % 3);
    std::vector<uint8_t> client_secret(suite == tls13_suite::aes_256_gcm_sha384 ? 48 : 32, 0x5c);
    std::vector<uint8_t> server_secret(client_secret.size(), 0xa3);
    auto session = tls_session::from_secrets(suite, client_secret, server_secret);
    check(session != nullptr);
    tls13_records peer;  // the client: it writes under the client secret
    check(peer.init(suite, server_secret, client_secret, 0));

    // The peer's stream, scripted by the input.
    std::string stream;
    size_t sealed_plaintext = 0;
    while (!in.empty() && stream.size() < 256 * 1024) {
        switch (in.byte() % 4) {
            case 0: {  // a record: content, its type, then padding
                size_t length = in.byte() * 64 + in.byte();
                std::string content = in.bytes(length);
                uint8_t type = in.byte();
                std::string padding(in.byte() % 32, '\0');
                iovec parts[] = {
                    {content.data(), content.size()}, {&type, 1}, {padding.data(), padding.size()}};
                check(peer.seal(stream, parts, 3, static_cast<content_type>(0)));
                sealed_plaintext += content.size() + 1 + padding.size();
                break;
            }
            case 1:  // raw bytes
                stream += in.bytes(in.byte());
                break;
            case 2: {  // a KeyUpdate, then the new key
                uint8_t update[] = {24, 0, 0, 1, static_cast<uint8_t>(in.byte() % 3)};
                check(peer.seal(stream, {update, sizeof(update)}, content_type::handshake));
                check(peer.update_write_key());
                break;
            }
            default:  // a new key nobody announced
                check(peer.update_write_key());
                break;
        }
    }

    std::vector<uint8_t> scratch(tls_session::receive_scratch_bytes);
    size_t piece = static_cast<size_t>(in.byte()) * 16 + 1;
    size_t plaintext = 0;
    bool failed = false, closed = false;
    std::string out;
    const auto* bytes = reinterpret_cast<const uint8_t*>(stream.data());
    for (size_t at = 0; at < stream.size(); at += piece) {
        size_t n = std::min(piece, stream.size() - at);
        tls_status status = session->receive({bytes + at, n}, scratch, [&](std::span<uint8_t> p) {
            plaintext += p.size();
            return true;
        });
        if (failed) check(status == tls_status::failed);
        if (closed) check(status == tls_status::peer_closed);
        if (status == tls_status::failed) {
            check(!session->error().empty());
            failed = true;
        }
        if (status == tls_status::peer_closed) closed = true;
        out.clear();
        session->take_output(out);
        check(out.size() < 64 * 1024);  // a KeyUpdate or an alert at most per record
    }
    check(plaintext <= sealed_plaintext);
    if (!failed) {
        static const uint8_t reply[] = "HTTP/1.1 200 OK\r\n\r\n";
        check(session->send({reply, sizeof(reply) - 1}) == tls_status::ok);
    }
    return 0;
}
