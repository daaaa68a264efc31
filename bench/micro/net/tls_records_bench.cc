// Micro-benchmarks for sealing TLS 1.3 records: chorusd's own record layer (a server session
// after its handshake, encrypting from the frames' iovecs) against OpenSSL's SSL_write (a client
// session, which keeps OpenSSL, over one gathered buffer), both AES-128-GCM: one audio frame (a
// paced delivery) and one receiver's pass of 50 frames (a flood).
#include <benchmark/benchmark.h>
#include <sys/uio.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/tls/tls_context.h"
#include "net/tls/tls_session.h"

namespace chorus::net::tls {
namespace {

constexpr size_t frame_bytes = 160;

// A finished handshake between our client and server sessions over memory.
struct session_pair {
    context_ptr server_context, client_context;
    std::unique_ptr<tls_session> server, client;
    std::vector<uint8_t> scratch = std::vector<uint8_t>(tls_session::receive_scratch_bytes);

    session_pair() {
        std::string error, fingerprint;
        server_context = make_self_signed_context({"localhost"}, &fingerprint, &error);
        client_context = make_client_context(false, &error);
        server = tls_session::make(server_context.get(), tls_role::server, &error);
        client = tls_session::make(client_context.get(), tls_role::client, &error);
        client->start();
        for (int round = 0; round < 10; ++round) {
            std::string a, b;
            client->take_output(a);
            server->take_output(b);
            if (a.empty() && b.empty()) break;
            auto ignore = [](std::span<uint8_t>) { return true; };
            server->receive({reinterpret_cast<uint8_t*>(a.data()), a.size()}, scratch, ignore);
            client->receive({reinterpret_cast<uint8_t*>(b.data()), b.size()}, scratch, ignore);
        }
    }
};

// `frames` frames of 160 B, sealed by `own` (the server: iovecs straight in) or OpenSSL (the
// client: gathered into one buffer first, as tls_loop does for a session OpenSSL keeps).
void seal_pass(benchmark::State& state, bool own, int frames) {
    session_pair pair;
    tls_session& session = own ? *pair.server : *pair.client;
    if (session.own_records() != own) state.SkipWithError("unexpected record owner");
    std::vector<std::string> payload(frames, std::string(frame_bytes, 'f'));
    std::vector<iovec> iov;
    for (auto& p : payload) iov.push_back({p.data(), p.size()});
    std::vector<uint8_t> gather(frames * frame_bytes);
    std::string out;
    for (auto _ : state) {
        if (own) {
            session.send(iov.data(), frames);
        } else {
            size_t at = 0;
            for (const iovec& v : iov) {
                std::memcpy(gather.data() + at, v.iov_base, v.iov_len);
                at += v.iov_len;
            }
            session.send({gather.data(), at});
        }
        out.clear();
        session.take_output(out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * frames * frame_bytes);
}

void own_records_one_frame(benchmark::State& state) {
    seal_pass(state, true, 1);
}
void openssl_one_frame(benchmark::State& state) {
    seal_pass(state, false, 1);
}
void own_records_pass_of_50(benchmark::State& state) {
    seal_pass(state, true, 50);
}
void openssl_pass_of_50(benchmark::State& state) {
    seal_pass(state, false, 50);
}
BENCHMARK(own_records_one_frame);
BENCHMARK(openssl_one_frame);
BENCHMARK(own_records_pass_of_50);
BENCHMARK(openssl_pass_of_50);

}  // namespace
}  // namespace chorus::net::tls
