// libFuzzer target for the server side of TLS (net/tls/tls_session): arbitrary bytes from a
// peer, cut into pieces at points the input chooses, must leave the session ok, failed or
// closed, never crash, never hand out more plaintext than came in, and stay failed once failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/tls/tls_context.h"
#include "net/tls/tls_session.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

SSL_CTX* server_context() {
    static chorus::net::tls::context_ptr context = [] {
        std::string fingerprint, error;
        auto made = chorus::net::tls::make_self_signed_context({"localhost"}, &fingerprint, &error);
        check(made != nullptr);
        return made;
    }();
    return context.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::net::tls;
    auto session = tls_session::make(server_context(), tls_role::server, nullptr);
    check(session != nullptr);
    std::vector<uint8_t> scratch(tls_session::receive_scratch_bytes);
    // The first byte picks the piece size (1..256), so records split everywhere get tried.
    size_t piece = size ? static_cast<size_t>(data[0]) + 1 : 1;
    size_t plaintext = 0;
    bool failed = false;
    std::string out;
    for (size_t at = size ? 1 : 0; at < size; at += piece) {
        size_t n = std::min(piece, size - at);
        tls_status status = session->receive({data + at, n}, scratch, [&](std::span<uint8_t> p) {
            plaintext += p.size();
            return true;
        });
        if (failed) check(status == tls_status::failed);
        if (status == tls_status::failed || status == tls_status::plain_http) {
            check(!session->error().empty());
            failed = true;
        }
        out.clear();
        session->take_output(out);
        check(out.size() < 64 * 1024);  // a handshake flight, an alert: never a flood
    }
    check(plaintext <= size);
    if (!failed && session->handshake_done()) {
        static const uint8_t reply[] = "HTTP/1.1 200 OK\r\n\r\n";
        check(session->send({reply, sizeof(reply) - 1}) == tls_status::ok);
    }
    return 0;
}
