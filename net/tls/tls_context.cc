// Building OpenSSL contexts: the one policy every server context shares (TLS 1.2 and 1.3 only,
// forward-secret AEAD suites in the server's order, no renegotiation, ALPN http/1.1, one
// stateless session ticket, record buffers released while idle), certificates from PEM files or
// made on the spot, and the swap a reload does.
#include "net/tls/tls_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "net/tls/tls_session.h"

namespace chorus::net::tls {

namespace {

constexpr unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr long ticket_keys_bytes = 80;  // OpenSSL: 16 name + 32 HMAC + 32 AES
constexpr long self_signed_days = 30;

std::string openssl_reason() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    return text;
}

// Picks http/1.1 when the client offers it; a client offering only other protocols goes on
// without ALPN rather than failing (it then speaks HTTP/1.1 or is refused by the HTTP parser).
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void*) {
    unsigned int i = 0;
    while (i < offered_length) {
        unsigned int length = offered[i];
        if (i + 1 + length > offered_length) break;
        if (length == sizeof(alpn_http11) - 1 &&
            std::memcmp(offered + i + 1, alpn_http11 + 1, length) == 0) {
            *out = offered + i + 1;
            *out_length = static_cast<unsigned char>(length);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + length;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

context_ptr new_context(bool server, std::string* error) {
    context_ptr context(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
    if (!context) {
        *error = "cannot create a TLS context: " + openssl_reason();
        return nullptr;
    }
    SSL_CTX* c = context.get();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    // Forward-secret AEAD only, AES-128-GCM first: as strong as needed and the cheapest per
    // byte with AES-NI, which is what a fan-out pays for once per recipient.
    if (SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM+AES128:ECDHE+AESGCM+AES256:ECDHE+CHACHA20") != 1 ||
        SSL_CTX_set_ciphersuites(c,
                                 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                 "TLS_CHACHA20_POLY1305_SHA256") != 1) {
        *error = "cannot set the TLS cipher lists: " + openssl_reason();
        return nullptr;
    }
    if (server) {
        SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
        // Stateless tickets only: no per-session memory kept on the server for resumption.
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(c, 1);
        SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
        // A TLS 1.3 session keeps its traffic secrets to seal its records itself once the
        // handshake is done (tls_session::adopt_records); nothing is written anywhere.
        SSL_CTX_set_keylog_callback(c, tls_session::note_secret);
    } else {
        SSL_CTX_set_alpn_protos(c, alpn_http11, sizeof(alpn_http11));
    }
    return context;
}

bool readable(const std::string& file, const char* what, std::string* error) {
    std::FILE* f = std::fopen(file.c_str(), "r");
    if (!f) {
        *error = std::string("cannot open the ") + what + " " + file + ": " + std::strerror(errno);
        return false;
    }
    std::fclose(f);
    return true;
}

bool add_extension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!extension) return false;
    bool ok = X509_add_ext(cert, extension, -1) == 1;
    X509_EXTENSION_free(extension);
    return ok;
}

std::string subject_alt_names(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) {
        if (!out.empty()) out += ',';
        in6_addr v6;
        in_addr v4;
        bool ip = inet_pton(AF_INET, name.c_str(), &v4) == 1 ||
                  inet_pton(AF_INET6, name.c_str(), &v6) == 1;
        out += (ip ? "IP:" : "DNS:") + name;
    }
    return out;
}

// The certificate for `key`, signed by itself; nullptr on failure.
X509* self_signed_certificate(EVP_PKEY* key, const std::vector<std::string>& names) {
    X509* cert = X509_new();
    if (!cert) return nullptr;
    unsigned char serial[16];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;  // positive
    BIGNUM* number = BN_bin2bn(serial, sizeof(serial), nullptr);
    bool ok = number && BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert)) != nullptr;
    BN_free(number);
    ok = ok && X509_set_version(cert, 2) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nullptr;
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert), self_signed_days * 86400) != nullptr;
    ok = ok && X509_set_pubkey(cert, key) == 1;
    X509_NAME* name = X509_get_subject_name(cert);
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                          reinterpret_cast<const unsigned char*>("chorusd"), -1, -1,
                                          0) == 1;
    ok = ok && X509_set_issuer_name(cert, name) == 1;
    ok = ok && add_extension(cert, NID_subject_alt_name, subject_alt_names(names));
    ok = ok && add_extension(cert, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && add_extension(cert, NID_key_usage, "critical,digitalSignature");
    ok = ok && add_extension(cert, NID_ext_key_usage, "serverAuth");
    ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(cert);
        return nullptr;
    }
    return cert;
}

std::string fingerprint_of(X509* cert) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), digest, &length) != 1) return "";
    std::string out;
    char hex[4];
    for (unsigned int i = 0; i < length; ++i) {
        std::snprintf(hex, sizeof(hex), i ? ":%02X" : "%02X", digest[i]);
        out += hex;
    }
    return out;
}

}  // namespace

void context_deleter::operator()(SSL_CTX* context) const {
    SSL_CTX_free(context);
}

context_ptr make_server_context(const std::string& cert_file, const std::string& key_file,
                                std::string* error) {
    if (!readable(cert_file, "certificate file", error)) return nullptr;
    if (!readable(key_file, "key file", error)) return nullptr;
    context_ptr context = new_context(true, error);
    if (!context) return nullptr;
    if (SSL_CTX_use_certificate_chain_file(context.get(), cert_file.c_str()) != 1) {
        *error = "cannot use the certificate chain in " + cert_file +
                 " (PEM expected): " + openssl_reason();
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(context.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        unsigned long code = ERR_peek_error();
        bool mismatch =
            ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH;
        *error = mismatch ? "the key in " + key_file + " does not match the certificate in " +
                                cert_file + " (" + openssl_reason() + ")"
                          : "cannot use the private key in " + key_file +
                                " (PEM expected): " + openssl_reason();
        return nullptr;
    }
    if (SSL_CTX_check_private_key(context.get()) != 1) {
        *error = "the key in " + key_file + " does not match the certificate in " + cert_file;
        ERR_clear_error();
        return nullptr;
    }
    return context;
}

context_ptr make_self_signed_context(const std::vector<std::string>& names,
                                     std::string* fingerprint, std::string* error) {
    context_ptr context = new_context(true, error);
    if (!context) return nullptr;
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    X509* cert = key ? self_signed_certificate(key, names) : nullptr;
    bool ok = cert && SSL_CTX_use_certificate(context.get(), cert) == 1 &&
              SSL_CTX_use_PrivateKey(context.get(), key) == 1;
    if (ok && fingerprint) *fingerprint = fingerprint_of(cert);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok) {
        *error = "cannot make a self-signed certificate: " + openssl_reason();
        return nullptr;
    }
    return context;
}

context_ptr make_client_context(bool verify, std::string* error) {
    context_ptr context = new_context(false, error);
    if (!context) return nullptr;
    if (verify) {
        SSL_CTX_set_default_verify_paths(context.get());
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
    }
    return context;
}

std::string certificate_fingerprint(SSL_CTX* context) {
    return fingerprint_of(SSL_CTX_get0_certificate(context));
}

SSL_CTX* server_contexts::acquire() {
    std::lock_guard lock(_mutex);
    SSL_CTX_up_ref(_current.get());
    return _current.get();
}

void server_contexts::replace(context_ptr next) {
    std::lock_guard lock(_mutex);
    unsigned char keys[ticket_keys_bytes];
    if (SSL_CTX_get_tlsext_ticket_keys(_current.get(), keys, sizeof(keys)) == 1)
        SSL_CTX_set_tlsext_ticket_keys(next.get(), keys, sizeof(keys));
    OPENSSL_cleanse(keys, sizeof(keys));
    _current = std::move(next);
}

bool kernel_tls_available(std::string* why) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        *why = std::string("cannot probe for kernel TLS: ") + std::strerror(errno);
        return false;
    }
    // An unconnected socket: a kernel with the tls module answers ENOTCONN, one without ENOENT.
    int rc = ::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
    int error = rc == 0 ? 0 : errno;
    ::close(fd);
    if (error == ENOTCONN || error == 0) {
        *why = "the kernel has TLS (TCP_ULP tls)";
        return true;
    }
    if (error == ENOENT) {
        *why = "the kernel has no TLS module (CONFIG_TLS not set or tls not loaded)";
    } else {
        *why = std::string("TCP_ULP tls refused: ") + std::strerror(error);
    }
    return false;
}

}  // namespace chorus::net::tls
