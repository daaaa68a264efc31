// The TLS byte transform without sockets: a client session and a server session hand each other
// their output, as a loop would. Covers the handshake (versions, ALPN), records split at every
// byte, one write making few records, garbage and plain HTTP in place of a ClientHello, a client
// below TLS 1.2, close_notify, and a context reload.
#include "net/tls/tls_session.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "net/tls/tls_context.h"

namespace chorus::net::tls {
namespace {

struct pair_fixture {
    context_ptr server_context;
    context_ptr client_context;
    std::unique_ptr<tls_session> server;
    std::unique_ptr<tls_session> client;
    std::string server_got;
    std::string client_got;
    std::vector<uint8_t> scratch = std::vector<uint8_t>(tls_session::receive_scratch_bytes);

    explicit pair_fixture(int client_max_version = 0) {
        std::string error, fingerprint;
        server_context = make_self_signed_context({"localhost", "127.0.0.1"}, &fingerprint, &error);
        EXPECT_TRUE(server_context) << error;
        client_context = make_client_context(false, &error);
        EXPECT_TRUE(client_context) << error;
        if (client_max_version) {
            SSL_CTX_set_min_proto_version(client_context.get(), TLS1_VERSION);
            SSL_CTX_set_max_proto_version(client_context.get(), client_max_version);
            SSL_CTX_set_security_level(client_context.get(), 0);
            SSL_CTX_set_cipher_list(client_context.get(), "ALL:@SECLEVEL=0");
        }
        server = tls_session::make(server_context.get(), tls_role::server, &error);
        client = tls_session::make(client_context.get(), tls_role::client, &error);
        EXPECT_TRUE(server && client) << error;
    }

    static std::string drain(tls_session& session) {
        std::string out;
        session.take_output(out);
        return out;
    }

    tls_status feed(tls_session& to, std::string& got, const std::string& bytes) {
        return to.receive({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, scratch,
                          [&](std::span<uint8_t> plain) {
                              got.append(reinterpret_cast<const char*>(plain.data()), plain.size());
                              return true;
                          });
    }

    // Moves bytes both ways until neither side has output; false if either side failed.
    bool pump() {
        for (int round = 0; round < 20; ++round) {
            std::string to_server = drain(*client), to_client = drain(*server);
            if (to_server.empty() && to_client.empty()) return true;
            if (!to_server.empty() && feed(*server, server_got, to_server) != tls_status::ok)
                return false;
            if (!to_client.empty() && feed(*client, client_got, to_client) != tls_status::ok)
                return false;
        }
        return false;
    }
};

std::span<const uint8_t> bytes_of(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// TLS records in a ciphertext stream (each starts with a 5-byte header carrying its length).
int count_records(const std::string& stream) {
    int records = 0;
    size_t at = 0;
    while (at + 5 <= stream.size()) {
        size_t length = (uint8_t(stream[at + 3]) << 8) | uint8_t(stream[at + 4]);
        at += 5 + length;
        ++records;
    }
    EXPECT_EQ(at, stream.size());
    return records;
}

TEST(TlsSession, HandshakeNegotiatesTls13AndAlpnThenCarriesBytesBothWays) {
    pair_fixture p;
    ASSERT_EQ(p.client->start(), tls_status::ok);
    EXPECT_FALSE(p.server->handshake_done());
    ASSERT_TRUE(p.pump());
    EXPECT_TRUE(p.server->handshake_done());
    EXPECT_TRUE(p.client->handshake_done());
    EXPECT_EQ(p.server->version(), "TLSv1.3");
    EXPECT_EQ(p.server->alpn(), "http/1.1");
    EXPECT_TRUE(p.server->own_records());  // OpenSSL's session is gone; we seal the records
    EXPECT_FALSE(p.client->own_records());
    ASSERT_EQ(p.client->send(bytes_of("GET / HTTP/1.1\r\n\r\n")), tls_status::ok);
    ASSERT_EQ(p.server->send(bytes_of("HTTP/1.1 200 OK\r\n\r\n")), tls_status::ok);
    ASSERT_TRUE(p.pump());
    EXPECT_EQ(p.server_got, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(p.client_got, "HTTP/1.1 200 OK\r\n\r\n");
}

TEST(TlsSession, BytesSentBeforeTheHandshakeGoOutWhenItFinishes) {
    pair_fixture p;
    ASSERT_EQ(p.client->start(), tls_status::ok);
    ASSERT_EQ(p.client->send(bytes_of("early request")), tls_status::ok);
    ASSERT_TRUE(p.pump());
    EXPECT_EQ(p.server_got, "early request");
}

TEST(TlsSession, RecordsSplitAtEveryByteArriveWhole) {
    pair_fixture p;
    ASSERT_EQ(p.client->start(), tls_status::ok);
    ASSERT_TRUE(p.pump());
    std::string message(3000, 'x');
    for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>('a' + i % 26);
    ASSERT_EQ(p.client->send(bytes_of(message)), tls_status::ok);
    std::string stream = pair_fixture::drain(*p.client);
    for (size_t i = 0; i < stream.size(); ++i) {
        ASSERT_EQ(p.feed(*p.server, p.server_got, stream.substr(i, 1)), tls_status::ok);
        if (i + 1 < stream.size()) {
            ASSERT_LT(p.server_got.size(), message.size());
        }
    }
    EXPECT_EQ(p.server_got, message);
}

TEST(TlsSession, OneWriteOfManyFramesIsOneRecordNotOnePerFrame) {
    pair_fixture p;
    ASSERT_EQ(p.client->start(), tls_status::ok);
    ASSERT_TRUE(p.pump());
    std::string pass;
    for (int frame = 0; frame < 50; ++frame) pass += std::string(160, static_cast<char>(frame));
    ASSERT_EQ(p.server->send(bytes_of(pass)), tls_status::ok);
    std::string one_write = pair_fixture::drain(*p.server);
    EXPECT_EQ(count_records(one_write), 1);
    for (int frame = 0; frame < 50; ++frame)
        ASSERT_EQ(p.server->send(bytes_of(pass.substr(frame * 160, 160))), tls_status::ok);
    std::string per_frame = pair_fixture::drain(*p.server);
    EXPECT_EQ(count_records(per_frame), 50);
    EXPECT_LT(one_write.size() + 50 * 16, per_frame.size());  // each record adds header and tag
    ASSERT_EQ(p.feed(*p.client, p.client_got, one_write + per_frame), tls_status::ok);
    EXPECT_EQ(p.client_got, pass + pass);
}

TEST(TlsSession, GarbageInsteadOfAClientHelloFailsCleanly) {
    pair_fixture p;
    std::string garbage(600, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
    garbage[0] = 0x16;  // looks like a handshake record at first
    EXPECT_EQ(p.feed(*p.server, p.server_got, garbage), tls_status::failed);
    EXPECT_FALSE(p.server->error().empty());
    EXPECT_TRUE(p.server_got.empty());
    EXPECT_EQ(p.feed(*p.server, p.server_got, "more"), tls_status::failed);  // stays failed
    EXPECT_EQ(p.server->send(bytes_of("no")), tls_status::failed);
}

TEST(TlsSession, TruncatedClientHelloWaitsForTheRest) {
    pair_fixture p;
    ASSERT_EQ(p.client->start(), tls_status::ok);
    std::string hello = pair_fixture::drain(*p.client);
    ASSERT_GT(hello.size(), 40u);
    EXPECT_EQ(p.feed(*p.server, p.server_got, hello.substr(0, 40)), tls_status::ok);
    EXPECT_FALSE(p.server->handshake_done());
    EXPECT_FALSE(p.server->has_output());  // nothing answered to half a hello
}

TEST(TlsSession, PlainHttpIsRecognised) {
    pair_fixture p;
    EXPECT_EQ(p.feed(*p.server, p.server_got, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
              tls_status::plain_http);
}

TEST(TlsSession, ClientsBelowTls12AreRefused) {
    pair_fixture p(TLS1_1_VERSION);
    ASSERT_EQ(p.client->start(), tls_status::ok);
    EXPECT_FALSE(p.pump());
    EXPECT_FALSE(p.server->handshake_done());
    EXPECT_NE(p.server->error().find("unsupported protocol"), std::string::npos)
        << p.server->error();
}

TEST(TlsSession, Tls12ClientsAreServed) {
    pair_fixture p(TLS1_2_VERSION);
    ASSERT_EQ(p.client->start(), tls_status::ok);
    ASSERT_TRUE(p.pump());
    EXPECT_EQ(p.server->version(), "TLSv1.2");
    EXPECT_EQ(p.server->alpn(), "http/1.1");
    EXPECT_FALSE(p.server->own_records());  // OpenSSL keeps TLS 1.2 records
    ASSERT_EQ(p.client->send(bytes_of("ping")), tls_status::ok);
    ASSERT_EQ(p.server->send(bytes_of("pong")), tls_status::ok);
    ASSERT_TRUE(p.pump());
    EXPECT_EQ(p.server_got, "ping");
    EXPECT_EQ(p.client_got, "pong");
}

TEST(TlsSession, CloseNotifyReachesThePeer) {
    pair_fixture p;
    ASSERT_EQ(p.client->start(), tls_status::ok);
    ASSERT_TRUE(p.pump());
    p.client->shutdown();
    std::string alert = pair_fixture::drain(*p.client);
    EXPECT_EQ(p.feed(*p.server, p.server_got, alert), tls_status::peer_closed);
}

// A raw OpenSSL client (not our session) over a BIO pair, against our server session: the
// renegotiation a TLS 1.2 client may ask for is refused, and the connection stays usable or
// fails cleanly, never loops.
TEST(TlsSession, Tls12RenegotiationIsRefused) {
    std::string error, fingerprint;
    context_ptr server_context = make_self_signed_context({"localhost"}, &fingerprint, &error);
    context_ptr client_context = make_client_context(false, &error);
    ASSERT_TRUE(server_context && client_context) << error;
    SSL_CTX_set_max_proto_version(client_context.get(), TLS1_2_VERSION);
    SSL_CTX_clear_options(client_context.get(), SSL_OP_NO_RENEGOTIATION);
    auto server = tls_session::make(server_context.get(), tls_role::server, &error);
    SSL* client = SSL_new(client_context.get());
    BIO* inside = nullptr;
    BIO* outside = nullptr;
    ASSERT_EQ(BIO_new_bio_pair(&inside, 0, &outside, 0), 1);
    SSL_set_bio(client, inside, inside);
    SSL_set_connect_state(client);
    std::vector<uint8_t> scratch(tls_session::receive_scratch_bytes);
    std::string plain;
    // Moves bytes between the client's BIO pair and the server session.
    auto pump = [&] {
        for (int round = 0; round < 20; ++round) {
            char buffer[16 * 1024];
            int n = BIO_read(outside, buffer, sizeof(buffer));
            if (n > 0) {
                server->receive({reinterpret_cast<uint8_t*>(buffer), size_t(n)}, scratch,
                                [&](std::span<uint8_t> p) {
                                    plain.append(reinterpret_cast<char*>(p.data()), p.size());
                                    return true;
                                });
            }
            std::string out;
            server->take_output(out);
            if (!out.empty()) BIO_write(outside, out.data(), static_cast<int>(out.size()));
            SSL_do_handshake(client);
            if (n <= 0 && out.empty()) return;
        }
    };
    SSL_do_handshake(client);
    pump();
    ASSERT_TRUE(server->handshake_done());
    ASSERT_EQ(server->version(), "TLSv1.2");
    ASSERT_EQ(SSL_renegotiate(client), 1);
    SSL_do_handshake(client);  // sends the new ClientHello
    pump();
    // The server refused (a no_renegotiation alert): no second handshake happened. With
    // SSL_OP_ALLOW_CLIENT_RENEGOTIATION on the server this fails (checked by hand).
    EXPECT_NE(SSL_renegotiate_pending(client), 0);  // 0 once a renegotiation completed
    EXPECT_TRUE(server->handshake_done());
    SSL_free(client);
    BIO_free(outside);
}

TEST(TlsContext, BadFilesSayWhichFileAndWhy) {
    std::string error;
    EXPECT_FALSE(make_server_context("/nonexistent/cert.pem", "/nonexistent/key.pem", &error));
    EXPECT_NE(error.find("/nonexistent/cert.pem"), std::string::npos) << error;
    char path[] = "/tmp/chorus_tls_test_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    EXPECT_FALSE(make_server_context(path, path, &error));
    EXPECT_NE(error.find(path), std::string::npos) << error;
    EXPECT_NE(error.find("PEM"), std::string::npos) << error;
    unlink(path);
}

TEST(TlsContext, AReplacedContextServesNewHandshakesWhileOldSessionsKeepTheirs) {
    std::string error, first_print, second_print;
    context_ptr first = make_self_signed_context({"localhost"}, &first_print, &error);
    context_ptr second = make_self_signed_context({"localhost"}, &second_print, &error);
    ASSERT_TRUE(first && second);
    EXPECT_NE(first_print, second_print);
    server_contexts contexts(std::move(first));
    SSL_CTX* old = contexts.acquire();
    auto old_session = tls_session::make(old, tls_role::server, &error);
    contexts.replace(std::move(second));
    SSL_CTX* now = contexts.acquire();
    EXPECT_EQ(certificate_fingerprint(now), second_print);
    EXPECT_EQ(certificate_fingerprint(old), first_print);  // still alive: sessions hold it
    SSL_CTX_free(old);
    SSL_CTX_free(now);
    EXPECT_TRUE(old_session);
}

TEST(TlsContext, KernelTlsProbeAnswersWithAReason) {
    std::string why;
    kernel_tls_available(&why);
    EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace chorus::net::tls
