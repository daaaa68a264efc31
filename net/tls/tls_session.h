// One TLS connection as a byte transform (OpenSSL 3): ciphertext from the peer goes in and
// plaintext comes out; plaintext to send goes in and TLS records come out in an output buffer.
// No socket and no I/O: the loop that owns the socket moves the bytes (net/tls/tls_loop.h), so the
// handshake is driven by whichever loop pass the bytes arrive in and never blocks.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include "net/loop.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace chorus::net::tls {

enum class tls_role : uint8_t { server, client };

// What receive() or send() left the session in.
enum class tls_status : uint8_t {
    ok,           // keep going (the handshake may still want more bytes)
    peer_closed,  // the peer sent close_notify
    failed,       // a protocol error: close the connection (output() may hold an alert)
    plain_http,   // a server got a plain HTTP request instead of a ClientHello
};

class tls_session final : public transport_state {
  public:
    // A session on `context` (its reference is taken). nullptr when OpenSSL cannot make one.
    static std::unique_ptr<tls_session> make(SSL_CTX* context, tls_role role, std::string* error);
    ~tls_session() override;
    tls_session(const tls_session&) = delete;
    tls_session& operator=(const tls_session&) = delete;

    // A client writes its ClientHello into the output; a server does nothing until bytes come.
    tls_status start();
    // A client: the name sent in SNI and checked against the certificate (when verifying).
    bool set_server_name(const std::string& name);

    // Feeds ciphertext. Each run of plaintext is handed to `sink` as writable memory from
    // `scratch` (valid during the call only); the sink returns false to stop early (the owner
    // closed the connection), and the rest of the input is then discarded. All input is
    // consumed: a partial record stays inside OpenSSL until the rest arrives.
    // (A template over the sink, so that the audio path makes no std::function per receive.)
    template <typename sink_function>
    tls_status receive(std::span<const uint8_t> ciphertext, std::span<uint8_t> scratch,
                       sink_function&& sink) {
        return receive_with(ciphertext, scratch, &sink, [](void* f, std::span<uint8_t> plain) {
            return (*static_cast<std::remove_reference_t<sink_function>*>(f))(plain);
        });
    }
    using sink_call = bool (*)(void* sink, std::span<uint8_t> plaintext);
    tls_status receive_with(std::span<const uint8_t> ciphertext, std::span<uint8_t> scratch,
                            void* sink, sink_call call);

    // Encrypts `bytes` into the output, as few records as OpenSSL makes of one write (a record
    // holds up to 16 KiB). Before the handshake is done the bytes wait in the session and are
    // encrypted when it finishes. Returns failed if the session is unusable.
    tls_status send(std::span<const uint8_t> bytes);

    // Queues close_notify (after a finished handshake; nothing otherwise).
    void shutdown();

    // Ciphertext waiting to be written to the socket. The loop takes it with take_output().
    bool has_output() const { return !_output.empty(); }
    // Moves the waiting ciphertext into `into` (which must be empty), leaving the output empty.
    void take_output(std::string& into);
    // Total ciphertext bytes the session ever produced (a position in the outgoing stream).
    uint64_t output_total() const { return _output_total; }

    bool handshake_done() const { return _handshake_done; }
    tls_role role() const { return _role; }
    // The negotiated ALPN protocol ("" when none), the TLS version ("TLSv1.3").
    std::string alpn() const;
    std::string version() const;
    // Why the session failed, for the log.
    const std::string& error() const { return _error; }

    // For the loop: the bytes of the ciphertext send in flight, and how far it got.
    std::string in_flight;
    size_t in_flight_offset = 0;
    uint64_t sent_total = 0;   // ciphertext bytes written to the socket so far
    uint64_t owner_mark = 0;   // output_total() once the owner's last send is encrypted
    uint64_t owner_bytes = 0;  // plaintext bytes of the owner's send in progress (0: none)

  private:
    friend struct bio_glue;
    tls_session() = default;
    tls_status finish_handshake();
    tls_status fail(int ssl_error, const char* during);

    SSL* _ssl = nullptr;
    std::span<const uint8_t> _input;  // the ciphertext receive() is feeding
    std::string _output;              // records waiting for the socket
    std::string _early;               // plaintext sent before the handshake finished
    uint64_t _output_total = 0;
    std::string _error;
    bool _handshake_done = false;
    bool _failed = false;
    tls_role _role = tls_role::server;
};

}  // namespace chorus::net::tls
