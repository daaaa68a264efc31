// The listener helpers without a loop: a port another socket listens on is seen as taken, a
// bound socket that does not listen yet or a closed one is not.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "net/loop.h"

namespace chorus::net {
namespace {

uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

TEST(Listener, AListeningSocketMakesTheAddressTaken) {
    std::string error;
    int fd = open_listener("127.0.0.1:0", 16, &error);
    ASSERT_GE(fd, 0) << error;
    std::string address = "127.0.0.1:" + std::to_string(port_of(fd));
    EXPECT_TRUE(address_has_listener(address));
    // The wildcard address overlaps it too.
    EXPECT_TRUE(address_has_listener("0.0.0.0:" + std::to_string(port_of(fd))));
    ::close(fd);
    EXPECT_FALSE(address_has_listener(address));
}

TEST(Listener, ABoundSocketThatDoesNotListenIsNotAListener) {
    std::string error;
    int fd = bind_listener("127.0.0.1:0", &error);
    ASSERT_GE(fd, 0) << error;
    EXPECT_FALSE(address_has_listener("127.0.0.1:" + std::to_string(port_of(fd))));
    ASSERT_EQ(start_listening(fd, 16), 0);
    EXPECT_TRUE(address_has_listener("127.0.0.1:" + std::to_string(port_of(fd))));
    ::close(fd);
}

TEST(Listener, PortZeroAndBadAddressesAreNeverTaken) {
    EXPECT_FALSE(address_has_listener("127.0.0.1:0"));
    EXPECT_FALSE(address_has_listener("not an address"));
}

}  // namespace
}  // namespace chorus::net
