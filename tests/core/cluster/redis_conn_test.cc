// redis_conn against a real redis-server started by the test (skipped where none is installed):
// replies come back in command order, binary payloads survive, a subscriber connection gets
// pushes, and closing fails every pending callback exactly once.
#include "core/cluster/redis_conn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace chorus::core::cluster {
namespace {

class RedisConnTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (access("/usr/bin/redis-server", X_OK) != 0) GTEST_SKIP() << "no redis-server";
        for (int attempt = 0; attempt < 5 && _pid <= 0; ++attempt) {
            _port = static_cast<uint16_t>(20000 + (getpid() * 7 + attempt * 131) % 10000);
            std::string port = std::to_string(_port);
            _pid = fork();
            if (_pid == 0) {
                int quiet = open("/dev/null", O_WRONLY);
                dup2(quiet, 1);
                dup2(quiet, 2);
                execl("/usr/bin/redis-server", "redis-server", "--port", port.c_str(), "--bind",
                      "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning",
                      static_cast<char*>(nullptr));
                _exit(127);
            }
            // Ready when a connection gets PONG.
            for (int i = 0; i < 200; ++i) {
                redis_conn probe;
                std::string error;
                bool pong = false;
                if (probe.open(redis_address{"127.0.0.1", _port, "", ""}, &error)) {
                    probe.command({"PING"}, [&](const redisReply* r) {
                        pong = r && r->type == REDIS_REPLY_STATUS;
                    });
                    pump(
                        probe, [&] { return pong || !probe.is_open(); }, 200);
                }
                if (pong) return;
                int status = 0;
                if (waitpid(_pid, &status, WNOHANG) == _pid) break;  // port taken: next one
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            kill(_pid, SIGKILL);
            waitpid(_pid, nullptr, 0);
            _pid = -1;
        }
        FAIL() << "redis-server did not start";
    }
    void TearDown() override {
        if (_pid > 0) {
            kill(_pid, SIGKILL);
            waitpid(_pid, nullptr, 0);
        }
    }

    // Drives one connection until `done` or the deadline.
    template <typename Done>
    static bool pump(redis_conn& c, Done done, int ms = 2000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (!done() && c.is_open() && std::chrono::steady_clock::now() < deadline) {
            pollfd p{c.fd(), static_cast<short>(POLLIN | (c.wants_write() ? POLLOUT : 0)), 0};
            if (poll(&p, 1, 20) <= 0) continue;
            std::string error;
            bool ok = true;
            if (p.revents & (POLLOUT | POLLERR | POLLHUP)) ok = c.on_writable(&error);
            if (ok && (p.revents & (POLLIN | POLLERR | POLLHUP))) ok = c.on_readable(&error);
            if (!ok) c.close();
        }
        return done();
    }

    uint16_t _port = 0;
    pid_t _pid = -1;
};

TEST_F(RedisConnTest, RepliesInOrderAndBinarySafe) {
    redis_conn c;
    std::string error;
    ASSERT_TRUE(c.open(redis_address{"127.0.0.1", _port, "", ""}, &error)) << error;
    std::string binary("a\0b|\r\n\xff", 7);
    std::vector<std::string> got;
    c.command({"SET", "k", binary}, [&](const redisReply* r) { got.emplace_back(r->str, r->len); });
    c.command({"GET", "k"}, [&](const redisReply* r) { got.emplace_back(r->str, r->len); });
    c.command({"INCR", "n"},
              [&](const redisReply* r) { got.push_back(std::to_string(r->integer)); });
    c.command({"NOSUCHCOMMAND"}, [&](const redisReply* r) {
        got.push_back(r->type == REDIS_REPLY_ERROR ? "error" : "?");
    });
    ASSERT_TRUE(pump(c, [&] { return got.size() == 4; }));
    EXPECT_EQ(got, (std::vector<std::string>{"OK", binary, "1", "error"}));
}

TEST_F(RedisConnTest, SubscriberGetsPushes) {
    redis_conn sub, pub;
    std::string error;
    ASSERT_TRUE(sub.open(redis_address{"127.0.0.1", _port, "", ""}, &error));
    ASSERT_TRUE(pub.open(redis_address{"127.0.0.1", _port, "", ""}, &error));
    std::vector<std::string> pushes;
    sub.on_push = [&](const redisReply* r) {
        ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
        pushes.emplace_back(r->element[0]->str, r->element[0]->len);
        if (pushes.back() == "message") pushes.emplace_back(r->element[2]->str, r->element[2]->len);
    };
    sub.command({"SUBSCRIBE", "ch"}, {});
    ASSERT_TRUE(pump(sub, [&] { return pushes.size() == 1; }));
    EXPECT_EQ(sub.pending_replies(), 0u);  // pushes are not matched to callbacks
    pub.command({"PUBLISH", "ch", "hello"}, {});
    ASSERT_TRUE(pump(pub, [&] { return pub.pending_replies() == 0; }));
    ASSERT_TRUE(pump(sub, [&] { return pushes.size() == 3; }));
    EXPECT_EQ(pushes, (std::vector<std::string>{"subscribe", "message", "hello"}));
}

TEST_F(RedisConnTest, CloseFailsPendingOnce) {
    redis_conn c;
    std::string error;
    ASSERT_TRUE(c.open(redis_address{"127.0.0.1", _port, "", ""}, &error));
    int failed = 0, answered = 0;
    for (int i = 0; i < 3; ++i)
        c.command({"PING"}, [&](const redisReply* r) { (r ? answered : failed)++; });
    c.close();
    EXPECT_EQ(failed, 3);
    EXPECT_EQ(answered, 0);
    c.command({"PING"}, [&](const redisReply* r) { (r ? answered : failed)++; });
    EXPECT_EQ(failed, 4);  // a closed connection fails at once
}

TEST(RedisConn, RefusedPortFailsWithoutHanging) {
    redis_conn c;
    std::string error;
    // Port 1 on loopback: nothing listens there.
    if (c.open(redis_address{"127.0.0.1", 1, "", ""}, &error)) {
        pollfd p{c.fd(), POLLOUT, 0};
        ASSERT_EQ(poll(&p, 1, 2000), 1);
        EXPECT_FALSE(c.on_writable(&error));
    }
    EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace chorus::core::cluster
