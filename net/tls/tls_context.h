// TLS configuration shared by every loop of a process: the server's OpenSSL context (protocol
// floor, cipher preference, ALPN, tickets) built from PEM files or from an ephemeral self-signed
// certificate, replaceable while connections run (SIGHUP), and the client context the load
// generator uses. Also the kernel-TLS probe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace chorus::net::tls {

struct context_deleter {
    void operator()(SSL_CTX* context) const;
};
using context_ptr = std::unique_ptr<SSL_CTX, context_deleter>;

// A server context from a PEM certificate chain and its private key; nullptr with `error`
// saying which file is wrong and why.
context_ptr make_server_context(const std::string& cert_file, const std::string& key_file,
                                std::string* error);

// A server context with a fresh P-256 key and a self-signed certificate valid for `names`
// (DNS names or IP addresses) for 30 days. `fingerprint` gets its SHA-256 as AB:CD:...
context_ptr make_self_signed_context(const std::vector<std::string>& names,
                                     std::string* fingerprint, std::string* error);

// A client context (TLS 1.2+, ALPN http/1.1). `verify` false accepts any certificate.
context_ptr make_client_context(bool verify, std::string* error);

// The SHA-256 fingerprint of a context's certificate (AB:CD:...).
std::string certificate_fingerprint(SSL_CTX* context);

// The server context new handshakes use. Any thread; a reload replaces it while connections
// made on the old one keep it (each session holds a reference) until they end.
class server_contexts {
  public:
    explicit server_contexts(context_ptr first) : _current(std::move(first)) {}
    // A new reference to the current context; the caller frees it (SSL_CTX_free), or hands it
    // to a session, which takes its own.
    SSL_CTX* acquire();
    // Replaces the current context; session ticket keys carry over, so tickets issued before
    // a reload still resume.
    void replace(context_ptr next);

  private:
    std::mutex _mutex;
    context_ptr _current;
};

// Whether this kernel can take TLS keys (TCP_ULP "tls"); `why` says so in words. chorusd does
// not use kTLS: this only tells the operator.
bool kernel_tls_available(std::string* why);

}  // namespace chorus::net::tls
