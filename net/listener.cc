// Listening sockets and the backend probe. Every loop has its own SO_REUSEPORT listener on the
// same address, so the kernel spreads new connections over the cores. Binding and listening are
// separate steps: a server binds at start (a bad or taken address fails at once) and listens
// only once it can serve what the kernel accepts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "net/loop.h"

namespace chorus::net {

const char* backend_name(backend_kind kind) {
    return kind == backend_kind::uring ? "uring" : "epoll";
}

namespace {

bool parse_address(const std::string& address, sockaddr_storage* out, socklen_t* length) {
    std::string host;
    std::string port;
    if (!address.empty() && address[0] == '[') {
        size_t close = address.find(']');
        if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':')
            return false;
        host = address.substr(1, close - 1);
        port = address.substr(close + 2);
    } else {
        size_t colon = address.rfind(':');
        if (colon == std::string::npos) return false;
        host = address.substr(0, colon);
        port = address.substr(colon + 1);
    }
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos)
        return false;
    unsigned long port_number = std::stoul(port);
    if (port_number > 65535) return false;
    std::memset(out, 0, sizeof(*out));
    auto* v4 = reinterpret_cast<sockaddr_in*>(out);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
    if (host.empty()) host = "0.0.0.0";
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port_number));
        *length = sizeof(sockaddr_in);
        return true;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port_number));
        *length = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

}  // namespace

int bind_listener(const std::string& address, std::string* error) {
    sockaddr_storage storage;
    socklen_t length = 0;
    if (!parse_address(address, &storage, &length)) {
        *error = "cannot parse listen address '" + address + "': use HOST:PORT or [V6]:PORT";
        return -EINVAL;
    }
    int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        *error = std::string("socket(): ") + std::strerror(err);
        return -err;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
        int err = errno;
        *error = "cannot listen on " + address + ": " + std::strerror(err);
        ::close(fd);
        return -err;
    }
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

bool address_has_listener(const std::string& address) {
    sockaddr_storage storage;
    socklen_t length = 0;
    if (!parse_address(address, &storage, &length)) return false;
    if (storage.ss_family == AF_INET && reinterpret_cast<sockaddr_in*>(&storage)->sin_port == 0)
        return false;
    if (storage.ss_family == AF_INET6 && reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port == 0)
        return false;
    int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    // SO_REUSEADDR without SO_REUSEPORT: connections in TIME_WAIT do not count, a socket that
    // listens on the port does, whoever owns it.
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool taken =
        ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 && errno == EADDRINUSE;
    ::close(fd);
    return taken;
}

int start_listening(int fd, int backlog) {
    return ::listen(fd, backlog) == 0 ? 0 : -errno;
}

int open_listener(const std::string& address, int backlog, std::string* error) {
    int fd = bind_listener(address, error);
    if (fd < 0) return fd;
    int rc = start_listening(fd, backlog);
    if (rc < 0) {
        *error = "cannot listen on " + address + ": " + std::strerror(-rc);
        ::close(fd);
        return rc;
    }
    return fd;
}

bool uring_available(std::string* why) {
    std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
    int value = 0;
    if (disabled >> value && value != 0) {
        *why = "kernel.io_uring_disabled=" + std::to_string(value);
        return false;
    }
    io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        *why = std::string("io_uring_setup failed: ") + std::strerror(-rc) +
               " (seccomp or a container policy may block it)";
        return false;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_SENDMSG) &&
              io_uring_opcode_supported(probe, IORING_OP_RECV) &&
              io_uring_opcode_supported(probe, IORING_OP_ACCEPT);
    if (probe) io_uring_free_probe(probe);
    io_uring_buf_reg reg{};
    void* memory = nullptr;
    if (ok) {
        // Provided-buffer rings (kernel 5.19+) are required for multishot receive.
        memory = aligned_alloc(4096, 4096);
        std::memset(memory, 0, 4096);
        reg.ring_addr = reinterpret_cast<unsigned long>(memory);
        reg.ring_entries = 8;
        reg.bgid = 7;
        if (io_uring_register_buf_ring(&ring, &reg, 0) != 0) {
            ok = false;
        } else {
            io_uring_unregister_buf_ring(&ring, 7);
        }
    }
    free(memory);
    io_uring_queue_exit(&ring);
    if (!ok) *why = "io_uring lacks multishot receive / provided buffer rings (kernel too old)";
    return ok;
}

}  // namespace chorus::net
