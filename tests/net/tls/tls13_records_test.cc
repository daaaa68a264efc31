// The TLS 1.3 records chorusd seals itself after a server handshake, checked against OpenSSL as
// the peer: bytes both ways, records over 16 KiB, KeyUpdate asked by the client and made by the
// server when a key is spent, session tickets that still resume, close_notify, and a tampered,
// replayed, unprotected or oversized record each failing with the alert a peer can read.
#include "net/tls/tls13_records.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <functional>
#include <string>
#include <vector>

#include "net/tls/tls_context.h"
#include "net/tls/tls_session.h"

namespace chorus::net::tls {
namespace {

std::span<const uint8_t> bytes_of(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

int count_records(const std::string& stream) {
    int records = 0;
    for (size_t at = 0; at + 5 <= stream.size(); ++records)
        at += 5 + ((uint8_t(stream[at + 3]) << 8) | uint8_t(stream[at + 4]));
    return records;
}

const context_ptr& server_context() {
    static context_ptr context = [] {
        std::string error, fingerprint;
        return make_self_signed_context({"localhost"}, &fingerprint, &error);
    }();
    return context;
}

// An OpenSSL client (not our session) over a BIO pair, against our server session.
const context_ptr& client_context() {
    static context_ptr context = [] {
        std::string error;
        return make_client_context(false, &error);
    }();
    return context;
}

struct raw_pair {
    SSL* client = nullptr;
    BIO* outside = nullptr;  // the network side of the client's BIO pair
    std::unique_ptr<tls_session> server;
    std::vector<uint8_t> scratch = std::vector<uint8_t>(tls_session::receive_scratch_bytes);
    std::string server_got;
    std::string to_client;  // everything the server wrote since the last pump
    tls_status last = tls_status::ok;

    explicit raw_pair(SSL_SESSION* resume = nullptr, SSL_CTX* server_ctx = nullptr,
                      const char* client_suites = nullptr, const char* client_groups = nullptr) {
        std::string error;
        server = tls_session::make(server_ctx ? server_ctx : server_context().get(),
                                   tls_role::server, &error);
        client = SSL_new(client_context().get());
        BIO* inside = nullptr;
        BIO_new_bio_pair(&inside, 256 * 1024, &outside, 256 * 1024);
        SSL_set_bio(client, inside, inside);
        SSL_set_connect_state(client);
        if (resume) SSL_set_session(client, resume);
        if (client_suites) SSL_set_ciphersuites(client, client_suites);
        if (client_groups) SSL_set1_groups_list(client, client_groups);
    }
    ~raw_pair() {
        SSL_free(client);
        BIO_free(outside);
    }

    // Client to server, then server to client, until quiet. `tamper` edits the client's bytes.
    void pump(const std::function<void(std::string&)>& tamper = {}) {
        to_client.clear();
        for (int round = 0; round < 20; ++round) {
            SSL_do_handshake(client);
            std::string bytes(64 * 1024, '\0');
            int n = BIO_read(outside, bytes.data(), static_cast<int>(bytes.size()));
            bytes.resize(n > 0 ? n : 0);
            if (!bytes.empty()) {
                if (tamper) tamper(bytes);
                last = server->receive(bytes_of(bytes), scratch, [&](std::span<uint8_t> p) {
                    server_got.append(reinterpret_cast<char*>(p.data()), p.size());
                    return true;
                });
            }
            std::string out;
            server->take_output(out);
            to_client += out;
            if (!out.empty()) BIO_write(outside, out.data(), static_cast<int>(out.size()));
            if (bytes.empty() && out.empty()) return;
        }
    }

    std::string client_read() {
        std::string got;
        char buffer[4096];
        size_t n = 0;
        while (SSL_read_ex(client, buffer, sizeof(buffer), &n) == 1) got.append(buffer, n);
        return got;
    }
};

TEST(Tls13Records, ClientAndServerCarryBytesIncludingRecordsOver16KiB) {
    raw_pair p;
    p.pump();
    ASSERT_TRUE(p.server->own_records());
    std::string request(40000, 'r');
    size_t written = 0;
    ASSERT_EQ(SSL_write_ex(p.client, request.data(), request.size(), &written), 1);
    p.pump();
    EXPECT_EQ(p.server_got, request);
    std::string reply(50000, '\0');
    for (size_t i = 0; i < reply.size(); ++i) reply[i] = static_cast<char>(i * 7);
    ASSERT_EQ(p.server->send(bytes_of(reply)), tls_status::ok);
    p.pump();
    EXPECT_EQ(count_records(p.to_client), 4);  // 16 KiB of plaintext per record
    EXPECT_EQ(p.client_read(), reply);
}

TEST(Tls13Records, ServerSendsFromAGatherListAsOneRecord) {
    raw_pair p;
    p.pump();
    std::string a = "first frame|", b, c = "|last frame";
    iovec iov[] = {{a.data(), a.size()}, {b.data(), 0}, {c.data(), c.size()}};
    ASSERT_EQ(p.server->send(iov, 3), tls_status::ok);
    p.pump();
    EXPECT_EQ(count_records(p.to_client), 1);
    EXPECT_EQ(p.client_read(), a + c);
}

TEST(Tls13Records, ASessionTicketIssuedBeforeTheHandoverStillResumes) {
    raw_pair first;  // alive throughout: freeing a client unshut makes its session unresumable
    first.pump();
    ASSERT_TRUE(first.server->own_records());
    ASSERT_EQ(first.server->send(bytes_of("hello")), tls_status::ok);
    first.pump();
    EXPECT_EQ(first.client_read(), "hello");  // the client reads the ticket before it
    SSL_SESSION* ticket = SSL_get1_session(first.client);
    ASSERT_NE(ticket, nullptr);
    ASSERT_EQ(SSL_SESSION_is_resumable(ticket), 1);
    raw_pair second(ticket);
    second.pump();
    EXPECT_EQ(SSL_session_reused(second.client), 1);
    EXPECT_TRUE(second.server->own_records());
    ASSERT_EQ(second.server->send(bytes_of("again")), tls_status::ok);
    second.pump();
    EXPECT_EQ(second.client_read(), "again");
    SSL_SESSION_free(ticket);
}

TEST(Tls13Records, AKeyUpdateTheClientAsksForIsAnsweredBeforeOurNextDataAndBothSidesMoveOn) {
    raw_pair p;
    p.pump();
    ASSERT_EQ(SSL_key_update(p.client, SSL_KEY_UPDATE_REQUESTED), 1);
    size_t written = 0;
    ASSERT_EQ(SSL_write_ex(p.client, "after update", 12, &written), 1);
    p.pump();
    EXPECT_EQ(p.last, tls_status::ok);
    EXPECT_EQ(p.server_got, "after update");
    EXPECT_EQ(count_records(p.to_client), 0);  // owed until we send data
    ASSERT_EQ(p.server->send(bytes_of("under the new key")), tls_status::ok);
    p.pump();
    EXPECT_EQ(count_records(p.to_client), 2);  // our KeyUpdate under the old key, then the data
    EXPECT_EQ(p.client_read(), "under the new key");
    // A second round: the client's new key and ours both advance again.
    ASSERT_EQ(SSL_key_update(p.client, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    ASSERT_EQ(SSL_write_ex(p.client, "twice", 5, &written), 1);
    p.pump();
    EXPECT_EQ(p.server_got, "after updatetwice");
    ASSERT_EQ(p.server->send(bytes_of("same key")), tls_status::ok);
    p.pump();
    EXPECT_EQ(count_records(p.to_client), 1);  // not requested: nothing owed
    EXPECT_EQ(p.client_read(), "same key");
}

// KeyUpdates without data cost us a key derivation each and carry nothing: after 32 in a row
// the peer is cut off, as OpenSSL does, and no reply piles up for a peer that does not read.
TEST(Tls13Records, AFloodOfKeyUpdatesIsCutOffWithoutRepliesPilingUp) {
    raw_pair p;
    p.pump();
    for (int i = 0; i < 40; ++i) {
        ASSERT_EQ(SSL_key_update(p.client, SSL_KEY_UPDATE_REQUESTED), 1);
        SSL_do_handshake(p.client);  // sends it
    }
    p.pump();
    EXPECT_EQ(p.last, tls_status::failed);
    EXPECT_NE(p.server->error().find("without data"), std::string::npos) << p.server->error();
    EXPECT_EQ(count_records(p.to_client), 1);  // the alert, no KeyUpdate replies
}

// Every suite chorusd offers, forced by the client, through a handshake with a
// HelloRetryRequest or without: bytes and KeyUpdates both ways with OpenSSL as the peer.
class Tls13Suites : public ::testing::TestWithParam<const char*> {};

TEST_P(Tls13Suites, CarryBytesAndKeyUpdatesWithOpenSslAsThePeer) {
    std::string error, fingerprint;
    context_ptr p256_only = make_self_signed_context({"localhost"}, &fingerprint, &error);
    ASSERT_EQ(SSL_CTX_set1_groups_list(p256_only.get(), "P-256"), 1);
    for (bool retry : {false, true}) {
        // With retry, the client's one key share (X25519) is not one the server takes.
        raw_pair p(nullptr, retry ? p256_only.get() : nullptr, GetParam(),
                   retry ? "X25519:P-256" : nullptr);
        p.pump();
        ASSERT_TRUE(p.server->own_records()) << GetParam();
        EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(p.client)), GetParam());
        if (retry) {
            EXPECT_EQ(SSL_get_negotiated_group(p.client), NID_X9_62_prime256v1);
        }
        for (int round = 0; round < 3; ++round) {
            std::string up = "up " + std::to_string(round), down = "down " + std::to_string(round);
            ASSERT_EQ(SSL_key_update(p.client, SSL_KEY_UPDATE_REQUESTED), 1);
            size_t written = 0;
            ASSERT_EQ(SSL_write_ex(p.client, up.data(), up.size(), &written), 1);
            p.pump();
            ASSERT_EQ(p.server->send(bytes_of(down)), tls_status::ok);
            p.pump();
            EXPECT_EQ(p.client_read(), down);
            EXPECT_EQ(p.last, tls_status::ok);
        }
        EXPECT_EQ(p.server_got, "up 0up 1up 2");
    }
}

INSTANTIATE_TEST_SUITE_P(Suites, Tls13Suites,
                         ::testing::Values("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256"));

TEST(Tls13Records, TheServerReplacesASpentWriteKeyAndTheClientFollows) {
    raw_pair p;
    p.pump();
    p.server->set_records_per_key(3);  // the ticket already used one record of the first key
    std::string expected;
    for (int i = 0; i < 10; ++i) {
        std::string frame = "frame " + std::to_string(i) + ";";
        expected += frame;
        ASSERT_EQ(p.server->send(bytes_of(frame)), tls_status::ok);
    }
    p.pump();
    EXPECT_EQ(count_records(p.to_client), 10 + 3);  // a KeyUpdate before frames 2, 5 and 8
    EXPECT_EQ(p.client_read(), expected);
}

TEST(Tls13Records, CloseNotifyBothWays) {
    raw_pair p;
    p.pump();
    p.server->shutdown();
    p.pump();
    char byte;
    size_t n = 0;
    EXPECT_EQ(SSL_read_ex(p.client, &byte, 1, &n), 0);
    EXPECT_EQ(SSL_get_error(p.client, 0), SSL_ERROR_ZERO_RETURN);
    raw_pair q;
    q.pump();
    SSL_shutdown(q.client);
    q.pump();
    EXPECT_EQ(q.last, tls_status::peer_closed);
}

// Each bad record fails the session with a fatal alert the client can read.
void expect_fails_with_alert(const std::function<void(std::string&)>& tamper, const char* alert,
                             const std::string& delivered = "") {
    raw_pair p;
    p.pump();
    size_t written = 0;
    ASSERT_EQ(SSL_write_ex(p.client, "payload", 7, &written), 1);
    p.pump(tamper);
    EXPECT_EQ(p.last, tls_status::failed);
    EXPECT_FALSE(p.server->error().empty());
    EXPECT_EQ(p.server_got, delivered);
    char byte;
    size_t n = 0;
    EXPECT_EQ(SSL_read_ex(p.client, &byte, 1, &n), 0);
    char why[256];
    ERR_error_string_n(ERR_peek_error(), why, sizeof(why));
    EXPECT_NE(std::string(why).find(alert), std::string::npos) << why;
    ERR_clear_error();
    std::string more = "more";
    EXPECT_EQ(p.server->receive(bytes_of(more), p.scratch, [](auto) { return true; }),
              tls_status::failed);  // failed stays failed
}

TEST(Tls13Records, ATamperedRecordIsABadRecordMac) {
    expect_fails_with_alert([](std::string& bytes) { bytes[bytes.size() - 3] ^= 1; },
                            "bad record mac");
}

TEST(Tls13Records, AReplayedRecordIsABadRecordMac) {
    expect_fails_with_alert([](std::string& bytes) { bytes += bytes; }, "bad record mac",
                            "payload");
}

TEST(Tls13Records, AnUnprotectedRecordAfterTheHandshakeIsUnexpected) {
    expect_fails_with_alert([](std::string& bytes) { bytes[0] = 22; }, "unexpected message");
}

TEST(Tls13Records, AnOversizedRecordIsARecordOverflow) {
    expect_fails_with_alert(
        [](std::string& bytes) {
            bytes[3] = static_cast<char>(0x41);  // 16 640 + 1 bytes of body
            bytes[4] = 1;
        },
        "record overflow");
}

// The record layer alone, with made-up secrets: a record opens once, at its own sequence.
TEST(Tls13Records, RecordsOpenInOrderOnceAndNotUnderAnotherKey) {
    std::vector<uint8_t> a(32, 0xa1), b(32, 0xb2);
    for (tls13_suite suite : {tls13_suite::aes_128_gcm_sha256, tls13_suite::chacha20_sha256}) {
        tls13_records sender, receiver;
        ASSERT_TRUE(sender.init(suite, a, b, 0));
        ASSERT_TRUE(receiver.init(suite, b, a, 0));
        std::string stream;
        ASSERT_TRUE(sender.seal(stream, bytes_of("one")));
        size_t first = stream.size();
        ASSERT_TRUE(sender.seal(stream, bytes_of("two")));
        std::vector<uint8_t> into(tls13_records::max_inner);
        size_t length = 0;
        uint8_t type = 0;
        auto whole = bytes_of(stream);
        EXPECT_EQ(receiver.open(whole.subspan(first), into, &length, &type),
                  tls13_records::open_status::bad_mac);  // out of order
        ASSERT_EQ(receiver.open(whole.first(first), into, &length, &type),
                  tls13_records::open_status::ok);
        EXPECT_EQ(std::string(reinterpret_cast<char*>(into.data()), length), "one");
        EXPECT_EQ(type, 23);
        EXPECT_EQ(receiver.open(whole.first(first), into, &length, &type),
                  tls13_records::open_status::bad_mac);  // once
        ASSERT_EQ(receiver.open(whole.subspan(first), into, &length, &type),
                  tls13_records::open_status::ok);
        ASSERT_TRUE(sender.update_write_key());
        std::string later;
        ASSERT_TRUE(sender.seal(later, bytes_of("three")));
        tls13_records stale;
        ASSERT_TRUE(stale.init(suite, b, a, 0));
        EXPECT_EQ(stale.open(bytes_of(later), into, &length, &type),
                  tls13_records::open_status::bad_mac);
        ASSERT_TRUE(receiver.update_read_key());
        ASSERT_EQ(receiver.open(bytes_of(later), into, &length, &type),
                  tls13_records::open_status::ok);
        EXPECT_EQ(std::string(reinterpret_cast<char*>(into.data()), length), "three");
    }
}

}  // namespace
}  // namespace chorus::net::tls
