// The TLS byte transform over a BIO of our own: its read side serves the ciphertext span that
// receive() is feeding (no copy, nothing kept between calls), its write side appends records to
// the session's output string. An idle session so holds no I/O buffers of its own; OpenSSL's
// record buffers are released while idle (SSL_MODE_RELEASE_BUFFERS on the context).
#include "net/tls/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

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
    SSL_set_bio(session->_ssl, bio, bio);  // one BIO, both directions; the SSL owns it
    if (role == tls_role::server) {
        SSL_set_accept_state(session->_ssl);
    } else {
        SSL_set_connect_state(session->_ssl);
    }
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
    return finish_handshake();
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

tls_status tls_session::finish_handshake() {
    int rc = SSL_do_handshake(_ssl);
    if (rc == 1) {
        _handshake_done = true;
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
    _input = ciphertext;
    if (!_handshake_done) {
        tls_status status = finish_handshake();
        if (status != tls_status::ok || !_handshake_done) {
            _input = {};
            return status;
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
    SSL_shutdown(_ssl);  // writes close_notify; we do not wait for the peer's
    ERR_clear_error();
}

void tls_session::take_output(std::string& into) {
    into.swap(_output);
    _output.clear();
}

std::string tls_session::alpn() const {
    const unsigned char* name = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(_ssl, &name, &length);
    return name ? std::string(reinterpret_cast<const char*>(name), length) : std::string();
}

std::string tls_session::version() const {
    return SSL_get_version(_ssl);
}

}  // namespace chorus::net::tls
