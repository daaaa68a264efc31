// One TLS connection as a byte transform (OpenSSL 3): ciphertext from the peer goes in and
// plaintext comes out; plaintext to send goes in and TLS records come out in an output buffer.
// No socket and no I/O: the loop that owns the socket moves the bytes (net/tls/tls_loop.h), so the
// handshake is driven by whichever loop pass the bytes arrive in and never blocks. A TLS 1.3
// server session frees OpenSSL's SSL once the handshake is done and seals and opens its records
// itself (net/tls/tls13_records.h): an idle wss connection then costs ~200 bytes of TLS state.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include "net/loop.h"
#include "net/tls/tls13_records.h"

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
    // The least scratch receive() needs: a whole record's content.
    static constexpr size_t receive_scratch_bytes = tls13_records::max_ciphertext;

    // A session on `context` (its reference is taken). nullptr when OpenSSL cannot make one.
    static std::unique_ptr<tls_session> make(SSL_CTX* context, tls_role role, std::string* error);
    // A server session already past a TLS 1.3 handshake with these traffic secrets (tests and
    // fuzzing: records made by a tls13_records with the secrets swapped open here).
    static std::unique_ptr<tls_session> from_secrets(tls13_suite suite,
                                                     std::span<const uint8_t> client_secret,
                                                     std::span<const uint8_t> server_secret);
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
    // The same from a gather list, copied into the records once; only when own_records().
    tls_status send(const iovec* iov, int iov_count);

    // Queues close_notify (after a finished handshake; nothing otherwise).
    void shutdown();

    // Ciphertext waiting to be written to the socket. The loop takes it with take_output().
    bool has_output() const { return !_output.empty(); }
    // Moves the waiting ciphertext into `into` (which must be empty), leaving the output empty.
    void take_output(std::string& into);
    // Total ciphertext bytes the session ever produced (a position in the outgoing stream).
    uint64_t output_total() const { return _output_total; }

    bool handshake_done() const { return _handshake_done; }
    // Whether chorusd seals and opens this session's records (a finished TLS 1.3 server
    // handshake; OpenSSL's SSL is freed) rather than OpenSSL (TLS 1.2, clients).
    bool own_records() const { return _records != nullptr; }
    // Records sealed under one key before a KeyUpdate replaces it (tests make it small).
    void set_records_per_key(uint64_t records) {
        if (_records) _records->set_records_per_key(records);
    }
    // OpenSSL's key log callback on server contexts: keeps a TLS 1.3 session's application
    // traffic secrets until its handshake is done (tls_context.cc installs it).
    static void note_secret(const SSL* ssl, const char* line);
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
    struct captured_secrets;
    tls_session();
    tls_status finish_handshake(size_t flight_start);
    tls_status fail(int ssl_error, const char* during);
    void adopt_records(size_t flight_start);
    tls_status receive_records(std::span<const uint8_t> ciphertext, std::span<uint8_t> scratch,
                               void* sink, sink_call call);
    tls_status open_record(std::span<const uint8_t> record, std::span<uint8_t> scratch, void* sink,
                           sink_call call, bool* stop);
    tls_status check_header(const uint8_t* header);
    tls_status on_alert(std::span<const uint8_t> alert);
    tls_status on_key_update(std::span<const uint8_t> message);
    tls_status fail_records(uint8_t alert, const char* why);
    bool seal(const iovec* iov, int iov_count, content_type type);

    SSL* _ssl = nullptr;
    std::unique_ptr<tls13_records> _records;     // set once chorusd seals the records
    std::unique_ptr<captured_secrets> _secrets;  // during a TLS 1.3 server handshake
    std::string _partial;                        // a record split across receives
    std::string _alpn;                           // kept when the SSL goes
    std::span<const uint8_t> _input;             // the ciphertext receive() is feeding
    std::string _output;                         // records waiting for the socket
    std::string _early;                          // plaintext sent before the handshake finished
    uint64_t _output_total = 0;
    std::string _error;
    bool _handshake_done = false;
    bool _failed = false;
    bool _peer_closed = false;
    bool _key_update_owed = false;      // the peer asked for our KeyUpdate
    uint8_t _records_without_data = 0;  // in a row, from the peer
    tls_role _role = tls_role::server;
};

}  // namespace chorus::net::tls
