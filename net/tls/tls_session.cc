// The TLS byte transform over a BIO of our own: its read side serves the ciphertext span that
// receive() is feeding (no copy, nothing kept between calls), its write side appends records to
// the session's output string. An idle session so holds no I/O buffers of its own; OpenSSL's
// record buffers are released while idle (SSL_MODE_RELEASE_BUFFERS on the context).
#include "net/tls/tls_session.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace chorus::net::tls {

struct bio_glue {
    static tls_session* of(BIO* bio) { return static_cast<tls_session*>(BIO_get_data(bio)); }

    static int read(BIO* bio, char* out, size_t size, size_t* got) {
        tls_session* session = of(bio);
        BIO_clear_retry_flags(bio);
        if (session->_input.empty()) {
            BIO_set_retry_read(bio);
            *got = 0;
            return 0;
        }
        size_t n = std::min(size, session->_input.size());
        std::memcpy(out, session->_input.data(), n);
        session->_input = session->_input.subspan(n);
        *got = n;
        return 1;
    }

    static int write(BIO* bio, const char* in, size_t size, size_t* written) {
        tls_session* session = of(bio);
        BIO_clear_retry_flags(bio);
        session->_output.append(in, size);
        session->_output_total += size;
        *written = size;
        return 1;
    }

    static long control(BIO* bio, int command, long, void*) {
        switch (command) {
            case BIO_CTRL_FLUSH:
                return 1;
            case BIO_CTRL_PENDING:
                return static_cast<long>(of(bio)->_input.size());
            case BIO_CTRL_WPENDING:
                return 0;
            default:
                return 0;
        }
    }

    static int create(BIO* bio) {
        BIO_set_init(bio, 1);
        return 1;
    }

    // Made once per process; OpenSSL's BIO_METHOD is read-only after that.
    static const BIO_METHOD* method() {
        static BIO_METHOD* made = [] {
            BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "chorus");
            BIO_meth_set_read_ex(m, read);
            BIO_meth_set_write_ex(m, write);
            BIO_meth_set_ctrl(m, control);
            BIO_meth_set_create(m, create);
            return m;
        }();
        return made;
    }
};

// A TLS 1.3 server handshake's application traffic secrets, from OpenSSL's key log.
struct tls_session::captured_secrets {
    uint8_t client[48];
    uint8_t server[48];
    size_t client_bytes = 0;
    size_t server_bytes = 0;
    ~captured_secrets() {
        OPENSSL_cleanse(client, sizeof(client));
        OPENSSL_cleanse(server, sizeof(server));
    }
};

tls_session::tls_session() = default;

namespace {

// "LABEL <client random> <secret>" as hex; false unless `line` has `label` and a secret that fits.
bool secret_of(const char* line, const char* label, uint8_t* out, size_t* out_bytes) {
    size_t label_bytes = std::strlen(label);
    if (std::strncmp(line, label, label_bytes) != 0 || line[label_bytes] != ' ') return false;
    const char* hex = std::strrchr(line, ' ') + 1;
    size_t digits = std::strlen(hex);
    if (digits % 2 != 0 || digits / 2 > 48) return false;
    for (size_t i = 0; i < digits / 2; ++i) {
        int high = OPENSSL_hexchar2int(static_cast<unsigned char>(hex[2 * i]));
        int low = OPENSSL_hexchar2int(static_cast<unsigned char>(hex[2 * i + 1]));
        if (high < 0 || low < 0) return false;
        out[i] = static_cast<uint8_t>(high << 4 | low);
    }
    *out_bytes = digits / 2;
    return true;
}

}  // namespace

void tls_session::note_secret(const SSL* ssl, const char* line) {
    auto* session = static_cast<tls_session*>(SSL_get_app_data(ssl));
    if (!session || session->_role != tls_role::server || session->_handshake_done) return;
    if (!session->_secrets) session->_secrets = std::make_unique<captured_secrets>();
    captured_secrets& s = *session->_secrets;
    if (!secret_of(line, "CLIENT_TRAFFIC_SECRET_0", s.client, &s.client_bytes))
        secret_of(line, "SERVER_TRAFFIC_SECRET_0", s.server, &s.server_bytes);
}

// A finished TLS 1.3 server handshake hands its records to tls13_records and frees the SSL.
// OpenSSL has read exactly up to the client's Finished (our BIO gives it what it asks for and it
// reads records one by one), so the client's sequence starts at 0; the records the finishing call
// wrote (its session tickets) were sealed under the server's application key, and each must open
// under it in turn, else OpenSSL keeps the session. Any doubt keeps OpenSSL: never wrong keys.
void tls_session::adopt_records(size_t flight_start) {
    struct clear_errors {  // a path that gives up leaves no OpenSSL error for the next session
        ~clear_errors() { ERR_clear_error(); }
    } clear;
    std::unique_ptr<captured_secrets> secrets = std::move(_secrets);
    if (!secrets || SSL_version(_ssl) != TLS1_3_VERSION || SSL_has_pending(_ssl) ||
        SSL_pending(_ssl) > 0)
        return;
    tls13_suite suite;
    switch (SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(_ssl))) {
        case 0x1301:
            suite = tls13_suite::aes_128_gcm_sha256;
            break;
        case 0x1302:
            suite = tls13_suite::aes_256_gcm_sha384;
            break;
        case 0x1303:
            suite = tls13_suite::chacha20_sha256;
            break;
        default:
            return;
    }
    std::span<const uint8_t> client(secrets->client, secrets->client_bytes);
    std::span<const uint8_t> server(secrets->server, secrets->server_bytes);
    tls13_records ours;  // what the server sealed, opened as its peer would
    if (!ours.init(suite, server, client, 0)) return;
    std::vector<uint8_t> opened(tls13_records::max_ciphertext);
    const auto* flight = reinterpret_cast<const uint8_t*>(_output.data());
    size_t at = flight_start;
    while (at < _output.size()) {
        if (_output.size() - at < tls13_records::header_bytes) return;
        size_t whole = tls13_records::header_bytes + (flight[at + 3] << 8 | flight[at + 4]);
        if (flight[at] != static_cast<uint8_t>(content_type::application_data) ||
            _output.size() - at < whole)
            return;
        size_t length = 0;
        uint8_t type = 0;
        bool opens = ours.open({flight + at, whole}, opened, &length, &type) ==
                     tls13_records::open_status::ok;
        OPENSSL_cleanse(opened.data(), opened.size());  // the ticket's nonce
        if (!opens) return;
        at += whole;
    }
    auto records = std::make_unique<tls13_records>();
    if (!records->init(suite, client, server, ours.read_seq())) return;
    _alpn = alpn();
    SSL_free(_ssl);
    _ssl = nullptr;
    _records = std::move(records);
}

std::unique_ptr<tls_session> tls_session::make(SSL_CTX* context, tls_role role,
                                               std::string* error) {
    std::unique_ptr<tls_session> session(new tls_session());
    session->_role = role;
    session->_ssl = SSL_new(context);
    BIO* bio = session->_ssl ? BIO_new(bio_glue::method()) : nullptr;
    if (!bio) {
        if (error) *error = "cannot create a TLS session (out of memory?)";
        ERR_clear_error();
        return nullptr;
    }
    BIO_set_data(bio, session.get());
    SSL_set_app_data(session->_ssl, session.get());  // for note_secret
    SSL_set_bio(session->_ssl, bio, bio);            // one BIO, both directions; the SSL owns it
    if (role == tls_role::server) {
        SSL_set_accept_state(session->_ssl);
    } else {
        SSL_set_connect_state(session->_ssl);
    }
    return session;
}

std::unique_ptr<tls_session> tls_session::from_secrets(tls13_suite suite,
                                                       std::span<const uint8_t> client_secret,
                                                       std::span<const uint8_t> server_secret) {
    std::unique_ptr<tls_session> session(new tls_session());
    auto records = std::make_unique<tls13_records>();
    if (!records->init(suite, client_secret, server_secret, 0)) return nullptr;
    session->_records = std::move(records);
    session->_handshake_done = true;
    session->_alpn = "http/1.1";
    return session;
}

tls_session::~tls_session() {
    if (_ssl) SSL_free(_ssl);
}

bool tls_session::set_server_name(const std::string& name) {
    bool ok =
        SSL_set_tlsext_host_name(_ssl, name.c_str()) == 1 && SSL_set1_host(_ssl, name.c_str()) == 1;
    ERR_clear_error();
    return ok;
}

tls_status tls_session::start() {
    if (_role == tls_role::server) return tls_status::ok;
    return finish_handshake(_output.size());
}

tls_status tls_session::fail(int ssl_error, const char* during) {
    _failed = true;
    unsigned long code = ERR_peek_error();
    bool plain_http = _role == tls_role::server && !_handshake_done &&
                      ERR_GET_LIB(code) == ERR_LIB_SSL &&
                      (ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST ||
                       ERR_GET_REASON(code) == SSL_R_HTTPS_PROXY_REQUEST);
    char text[256];
    if (code != 0) {
        ERR_error_string_n(code, text, sizeof(text));
        _error = std::string(during) + ": " + text;
    } else {
        _error = std::string(during) + ": SSL error " + std::to_string(ssl_error);
    }
    ERR_clear_error();
    return plain_http ? tls_status::plain_http : tls_status::failed;
}

// `flight_start`: where in the output this call's records begin (adopt_records counts them).
tls_status tls_session::finish_handshake(size_t flight_start) {
    int rc = SSL_do_handshake(_ssl);
    if (rc == 1) {
        _handshake_done = true;
        if (_role == tls_role::server) adopt_records(flight_start);
        if (!_early.empty()) {
            std::string early;
            early.swap(_early);
            return send({reinterpret_cast<const uint8_t*>(early.data()), early.size()});
        }
        return tls_status::ok;
    }
    int code = SSL_get_error(_ssl, rc);
    if (code == SSL_ERROR_WANT_READ) return tls_status::ok;
    return fail(code, "TLS handshake");
}

tls_status tls_session::receive_with(std::span<const uint8_t> ciphertext,
                                     std::span<uint8_t> scratch, void* sink, sink_call call) {
    if (_failed) return tls_status::failed;
    if (_peer_closed) return tls_status::peer_closed;
    if (_records) return receive_records(ciphertext, scratch, sink, call);
    _input = ciphertext;
    if (!_handshake_done) {
        tls_status status = finish_handshake(_output.size());
        if (status != tls_status::ok || !_handshake_done) {
            _input = {};
            return status;
        }
        if (_records) {  // OpenSSL read up to the client's Finished; the rest is ours
            std::span<const uint8_t> rest = _input;
            _input = {};
            return receive_records(rest, scratch, sink, call);
        }
    }
    tls_status status = tls_status::ok;
    for (;;) {
        size_t got = 0;
        if (SSL_read_ex(_ssl, scratch.data(), scratch.size(), &got) == 1) {
            if (!call(sink, scratch.first(got))) break;
            continue;
        }
        int code = SSL_get_error(_ssl, 0);
        if (code == SSL_ERROR_WANT_READ) break;
        if (code == SSL_ERROR_ZERO_RETURN) {
            _peer_closed = true;
            status = tls_status::peer_closed;
            break;
        }
        status = fail(code, "TLS read");
        break;
    }
    _input = {};
    return status;
}

tls_status tls_session::send(std::span<const uint8_t> bytes) {
    if (_failed) return tls_status::failed;
    if (!_handshake_done) {
        _early.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        return tls_status::ok;
    }
    if (_records) {
        iovec one{const_cast<uint8_t*>(bytes.data()), bytes.size()};
        return send(&one, 1);
    }
    while (!bytes.empty()) {
        size_t written = 0;
        // The BIO never refuses a write, so SSL_write either takes everything or fails.
        if (SSL_write_ex(_ssl, bytes.data(), bytes.size(), &written) != 1)
            return fail(SSL_get_error(_ssl, 0), "TLS write");
        bytes = bytes.subspan(written);
    }
    return tls_status::ok;
}

void tls_session::shutdown() {
    if (!_handshake_done || _failed) return;
    if (_records) {
        static const uint8_t close_notify[] = {1, 0};  // warning, close_notify
        iovec alert{const_cast<uint8_t*>(close_notify), sizeof(close_notify)};
        seal(&alert, 1, content_type::alert);
        return;
    }
    SSL_shutdown(_ssl);  // writes close_notify; we do not wait for the peer's
    ERR_clear_error();
}

void tls_session::take_output(std::string& into) {
    into.swap(_output);
    _output.clear();
}

std::string tls_session::alpn() const {
    if (!_ssl) return _alpn;
    const unsigned char* name = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(_ssl, &name, &length);
    return name ? std::string(reinterpret_cast<const char*>(name), length) : std::string();
}

std::string tls_session::version() const {
    if (!_ssl) return "TLSv1.3";  // only a TLS 1.3 session hands its records to us
    return SSL_get_version(_ssl);
}

}  // namespace chorus::net::tls
