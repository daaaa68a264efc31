// The TLS decorator over both backends (TEST_P), with the event-loop suite's recording handler
// and real loopback sockets. The client is a tls_session over a blocking socket, so the test
// sees the raw records: it checks that one owner send of many frames is one record, not one per
// frame. Also: echo through the handshake, a large send through short writes, a TLS connection
// moved to another loop with its session, plain HTTP answered with a 400, garbage closed.
#include "net/tls/tls_loop.h"

#include <gtest/gtest.h>

#include <cstring>

#include "net/tls/tls_context.h"
#include "tests/net/loop_test_harness.h"

namespace chorus::net::tls {
namespace {

using namespace net::testing;

// A blocking TLS client: the session's output is written to the socket, what the socket gives
// is fed to the session; every raw byte read is kept for record counting.
struct tls_client {
    int fd = -1;
    std::unique_ptr<tls_session> session;
    std::string plain;
    std::string raw;
    std::string why;  // what ended the last read_some that failed
    std::vector<uint8_t> scratch = std::vector<uint8_t>(tls_session::receive_scratch_bytes);

    bool flush() {
        std::string out;
        session->take_output(out);
        return out.empty() || write_all(fd, out);
    }
    // Reads once from the socket and feeds the session; false on EOF, error or timeout.
    bool read_some() {
        char buffer[64 * 1024];
        ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        while (n < 0 && errno == EINTR) n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) {
            why = n == 0 ? "EOF" : std::strerror(errno);
            return false;
        }
        raw.append(buffer, static_cast<size_t>(n));
        tls_status status =
            session->receive({reinterpret_cast<uint8_t*>(buffer), static_cast<size_t>(n)}, scratch,
                             [&](std::span<uint8_t> p) {
                                 plain.append(reinterpret_cast<char*>(p.data()), p.size());
                                 return true;
                             });
        if (status != tls_status::ok) why = "TLS: " + session->error();
        return status == tls_status::ok && flush();
    }
    bool handshake() {
        if (session->start() != tls_status::ok || !flush()) return false;
        while (!session->handshake_done())
            if (!read_some()) return false;
        return true;
    }
    bool write(const std::string& text) {
        return session->send({reinterpret_cast<const uint8_t*>(text.data()), text.size()}) ==
                   tls_status::ok &&
               flush();
    }
    // Waits until `count` plaintext bytes arrived; returns and removes them.
    std::string read_exact(size_t count) {
        while (plain.size() < count)
            if (!read_some()) break;
        std::string out = plain.substr(0, count);
        plain.erase(0, out.size());
        return out;
    }
};

// Application-data records (type 23) in a raw stream, from `from` on.
int application_records(const std::string& stream, size_t from) {
    int count = 0;
    size_t at = from;
    while (at + 5 <= stream.size()) {
        if (static_cast<uint8_t>(stream[at]) == 23) ++count;
        at += 5 +
              ((static_cast<uint8_t>(stream[at + 3]) << 8) | static_cast<uint8_t>(stream[at + 4]));
    }
    return count;
}

class TlsLoopTest : public ::testing::TestWithParam<backend_kind> {
  protected:
    void SetUp() override {
        std::string why;
        if (GetParam() == backend_kind::uring && !uring_available(&why))
            GTEST_SKIP() << "io_uring unavailable: " << why;
        std::string error, fingerprint;
        auto context = make_self_signed_context({"127.0.0.1"}, &fingerprint, &error);
        ASSERT_TRUE(context) << error;
        _contexts = std::make_unique<server_contexts>(std::move(context));
        _client_context = make_client_context(false, &error);
        ASSERT_TRUE(_client_context) << error;
    }
    void TearDown() override {
        for (auto& c : _clients) ::close(c->fd);
        for (auto& loop : _loops) EXPECT_TRUE(loop->stop());
        _loops.clear();
    }
    running_loop& start() {
        _loops.push_back(
            std::make_unique<running_loop>(GetParam(), loop_config{}, _contexts.get()));
        EXPECT_TRUE(_loops.back()->loop) << _loops.back()->start_error;
        return *_loops.back();
    }
    tls_client& client(uint16_t port) {
        _clients.push_back(std::make_unique<tls_client>());
        tls_client& c = *_clients.back();
        c.fd = connect_client(port);
        EXPECT_GE(c.fd, 0);
        c.session = tls_session::make(_client_context.get(), tls_role::client, nullptr);
        return c;
    }
    conn_handle accepted(running_loop& loop) {
        EXPECT_TRUE(loop.handler.wait([&] { return !loop.handler.accepted.empty(); }));
        return loop.handler.with_lock([&] { return loop.handler.accepted.front(); });
    }

    std::unique_ptr<server_contexts> _contexts;
    context_ptr _client_context;
    std::vector<std::unique_ptr<running_loop>> _loops;
    std::vector<std::unique_ptr<tls_client>> _clients;
};

TEST_P(TlsLoopTest, EchoesPlaintextThroughTheHandshake) {
    running_loop& loop = start();
    uint16_t port = loop.listen(true);
    ASSERT_NE(port, 0);
    loop.start();
    tls_client& c = client(port);
    ASSERT_TRUE(c.handshake()) << c.why;
    ASSERT_TRUE(c.write("hello, tls"));
    EXPECT_EQ(c.read_exact(10), "hello, tls");
    conn_handle conn = accepted(loop);
    // The owner saw plaintext only, and on_sent counted plaintext bytes.
    EXPECT_TRUE(loop.handler.wait([&] { return loop.handler.bytes_sent(conn) == 10; }));
}

TEST_P(TlsLoopTest, OneOwnerSendOfManyFramesIsOneRecord) {
    running_loop& loop = start();
    uint16_t port = loop.listen(true);
    loop.start();
    tls_client& c = client(port);
    ASSERT_TRUE(c.handshake()) << c.why;
    // An echo first: the session ticket (also an application-data record in TLS 1.3) comes
    // before it, so it is read before we count.
    ASSERT_TRUE(c.write("x"));
    ASSERT_EQ(c.read_exact(1), "x");
    conn_handle conn = accepted(loop);
    ASSERT_TRUE(loop.handler.call([&] { loop.handler.echo = false; }));
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.count(event_type::sent) >= 1; }));
    std::vector<std::string> frames;
    for (int i = 0; i < 50; ++i)
        frames.push_back(std::string(100, static_cast<char>('A' + i % 26)));
    bool sent = false;
    ASSERT_TRUE(loop.handler.call([&] {
        std::vector<iovec> iov;
        for (std::string& f : frames) iov.push_back({f.data(), f.size()});
        sent = loop.loop->send(conn, iov.data(), static_cast<int>(iov.size()));
    }));
    ASSERT_TRUE(sent);
    size_t raw_before = c.raw.size();
    std::string got = c.read_exact(5000);
    std::string want;
    for (const std::string& f : frames) want += f;
    EXPECT_EQ(got, want);
    EXPECT_EQ(application_records(c.raw, raw_before), 1);
    // One on_sent for the owner's send, with its plaintext size.
    ASSERT_TRUE(loop.handler.wait([&] { return loop.handler.count(event_type::sent) >= 2; }));
    EXPECT_EQ(loop.handler.with_lock([&] { return loop.handler.events.back().value; }), 5000);
}

TEST_P(TlsLoopTest, LargeSendGoesThroughShortWrites) {
    running_loop& loop = start();
    uint16_t port = loop.listen(true);
    loop.start();
    tls_client& c = client(port);
    ASSERT_TRUE(c.handshake()) << c.why;
    const std::string payload = pattern(3u << 20);
    ASSERT_TRUE(c.write(payload.substr(0, 1)));
    EXPECT_EQ(c.read_exact(1), payload.substr(0, 1));
    conn_handle conn = accepted(loop);
    // The loop gets its own copy, made here: the bytes coming back over the socket do not order
    // the loop thread's reads of `payload` before its destruction for TSan.
    loop.handler.post([&loop, conn, payload] { loop.handler.send_all(conn, payload); });
    std::string got = c.read_exact(payload.size());
    EXPECT_TRUE(got == payload) << "got " << got.size() << " bytes; " << c.why;
}

TEST_P(TlsLoopTest, ATlsConnectionMovesToAnotherLoopWithItsSession) {
    running_loop& first = start();
    first.handler.detach_word = "move";
    running_loop& second = start();
    uint16_t port = first.listen(true);
    first.start();
    second.start();
    tls_client& c = client(port);
    ASSERT_TRUE(c.handshake()) << c.why;
    ASSERT_TRUE(c.write("ping"));
    ASSERT_EQ(c.read_exact(4), "ping");
    ASSERT_TRUE(c.write("move"));
    ASSERT_TRUE(first.handler.wait([&] { return !first.handler.detached_fds.empty(); }));
    int moved = first.handler.with_lock([&] { return first.handler.detached_fds[0]; });
    std::unique_ptr<transport_state> session =
        first.handler.with_lock([&] { return std::move(first.handler.detached_transports[0]); });
    ASSERT_TRUE(session) << "the TLS session did not travel with the socket";
    conn_handle new_conn;
    ASSERT_TRUE(second.handler.call(
        [&] { new_conn = second.loop->adopt_moved(moved, std::move(session)); }));
    ASSERT_TRUE(new_conn.valid());
    ASSERT_TRUE(c.write("after the move"));
    EXPECT_EQ(c.read_exact(14), "after the move") << c.why;
}

TEST_P(TlsLoopTest, PlainHttpGetsA400AndGarbageAClose) {
    running_loop& loop = start();
    uint16_t port = loop.listen(true);
    loop.start();
    int fd = connect_client(port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(write_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string reply;
    EXPECT_EQ(read_to_end(fd, &reply), 0);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 ")) << reply;
    EXPECT_NE(reply.find("https://"), std::string::npos);
    ::close(fd);
    fd = connect_client(port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(write_all(fd, std::string("\x16\x03\x01\x00\x05") + "\xff\xff\xff\xff\xff"));
    std::string alert;
    int end = read_to_end(fd, &alert);
    EXPECT_TRUE(end == 0 || end == ECONNRESET) << std::strerror(end);
    EXPECT_TRUE(alert.empty() || static_cast<uint8_t>(alert[0]) == 21);  // an alert record
    ::close(fd);
    // The owner heard of both connections, and of their end.
    EXPECT_TRUE(loop.handler.wait([&] { return loop.handler.count(event_type::closed) == 2; }));
}

INSTANTIATE_TEST_SUITE_P(Backends, TlsLoopTest,
                         ::testing::Values(backend_kind::uring, backend_kind::epoll),
                         [](const auto& info) { return std::string(backend_name(info.param)); });

}  // namespace
}  // namespace chorus::net::tls
